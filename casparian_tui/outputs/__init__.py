"""Parquet outputs: writing, quarantine, output queries."""
