"""The benchmark suite behind `casparian bench`."""
