"""The `kling-mcp` command: serve (stdio or HTTP), `check`, `demo` and `sandbox`."""
