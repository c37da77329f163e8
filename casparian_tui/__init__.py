"""Casparian Flow: discover files, tag them, parse them into Parquet you can trust."""

__version__ = "0.1.0"
