"""kling-mcp: an MCP server that animates still images into videos with Kling's image-to-video API."""

__version__ = "0.1.0"
