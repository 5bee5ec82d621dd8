"""tau study."""
