"""analog package (see DESIGN in the README)."""
