"""The MCP edge: the server object, its tools and their texts, the per-call context, and the call gate."""
