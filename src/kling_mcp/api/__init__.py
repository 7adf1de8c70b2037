"""The Kling REST API: wire models, typed errors, the capability table and the HTTP client."""
