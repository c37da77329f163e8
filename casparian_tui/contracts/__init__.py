"""Schema contracts and validation of parser outputs."""
