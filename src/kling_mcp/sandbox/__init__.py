"""A Kling-compatible HTTP server on loopback: the no-keys demo and the tests' fake of Kling."""
