"""The tools' names as the spec and README give them, written out once for every test (tests/test_tool_contract.py
checks that the server publishes exactly these)."""

GENERATE = "kling_generate_video_from_image"
TEXT = "kling_generate_video_from_text"
GET = "kling_get_video_task"
LIST = "kling_list_video_tasks"
MODELS = "kling_list_models"
TOOLS = frozenset({GENERATE, TEXT, GET, LIST, MODELS})
WATCH = "kling_watch_video_task"  # app-only: listed to MCP Apps hosts, for the player view
