"""Sovereign's deterministic core: no I/O, no wall clock, no global randomness."""
