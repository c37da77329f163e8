"""One module per screen; number keys switch between them."""
