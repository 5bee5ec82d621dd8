"""pid study."""
