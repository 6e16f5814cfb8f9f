"""sensor package (see DESIGN in the README)."""
