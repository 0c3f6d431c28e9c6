"""Analyse: pure functions over inventories (no client, no clock, no I/O): coverage, evidence, freshness."""
