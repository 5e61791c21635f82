"""Strategy documents shipped with arrears (package data; see docs/strategies.md)."""
