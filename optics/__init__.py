"""optics package (see DESIGN in the README)."""
