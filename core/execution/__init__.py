"""Execution layer (SPEC §8–§9): parent/child orders, algorithms, routing, TCA."""
