"""The streamable HTTP transport: its settings, its security checks (tokens, Host/Origin, limits) and the app."""
