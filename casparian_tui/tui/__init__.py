"""The Textual app. The only package that may import textual."""
