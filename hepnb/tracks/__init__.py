"""tracks study."""
