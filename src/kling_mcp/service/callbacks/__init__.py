"""Kling's callbacks: the address each create carries, what a received one sets off, the relay to a caller."""
