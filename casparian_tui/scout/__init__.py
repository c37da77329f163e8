"""Scout: sources, the scanner, the file catalog, glob patterns, tagging rules."""
