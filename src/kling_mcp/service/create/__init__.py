"""Creating a paid task exactly once: the intent journaled before the request, every outcome after it."""
