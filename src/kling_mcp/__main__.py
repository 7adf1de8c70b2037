"""`python -m kling_mcp` is the same as the `kling-mcp` command."""

from kling_mcp.cli.main import main

raise SystemExit(main())
