"""Pure domain: stdlib only. No I/O, no clock, no environment, no frameworks."""
