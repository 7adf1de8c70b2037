"""The use case: validate a request, create the task once, wait for it, and describe the result."""
