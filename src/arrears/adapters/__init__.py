"""Adapters: I/O at the edge (database, files, channel providers)."""
