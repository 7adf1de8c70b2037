"""The `kling-mcp` command: serve (stdio or HTTP), `check`, `demo` and `sandbox`."""

# What a shell reports for a program ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130
