"""Native long-running calls: the MCP tasks protocol, in its 2025-11-25 and 2026-07-28 (SEP-2663) forms.

The MCP task *is* the Kling task. Creating one creates the Kling task (journaled before and after, as a normal call
does) and answers at once; nothing runs in the background. `tasks/get` reads the journal and, no more often than the
learned poll schedule allows, asks Kling; `tasks/result` (and a completed SEP-2663 `tasks/get`) runs the ordinary
`kling_get_video_task` tool until the video is done, so the result is exactly what a normal call returns. The handle
(owner, ttl, cancellation) is a journal row too, so a restarted server or another replica sharing the journal
answers for it. Everything hangs off the SDK's hooks — an `Extension` (new methods, the `tools/call` interceptor)
and one `Server.middleware` for what the 2025-11-25 wire needs and the SDK cannot express yet — so this package can
give way to the SDK's own tasks runtime when one ships.
"""
# The package's one public name; `extension` holds the protocol, `legacy` the 2025-11-25 middleware, `lookup`
# finding a caller's task, `results` running the ordinary tool for a task's result, `wire` the two wire forms.

from kling_mcp.server.tasks.extension import Tasks

__all__ = ["Tasks"]
