"""learn package (see DESIGN in the README)."""
