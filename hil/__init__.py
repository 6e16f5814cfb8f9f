"""hil package (see DESIGN in the README)."""
