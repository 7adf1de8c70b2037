"""The tools' names as the spec and README give them, written out once for every test (tests/test_tool_contract.py
checks that the server publishes exactly these)."""

GENERATE = "kling_generate_video_from_image"
TEXT = "kling_generate_video_from_text"
MOTION = "kling_generate_video_from_motion"
GET = "kling_get_video_task"
LIST = "kling_list_video_tasks"
CREATE_ELEMENT = "kling_create_element"
LIST_ELEMENTS = "kling_list_elements"
GET_ELEMENT = "kling_get_element"
DELETE_ELEMENT = "kling_delete_element"
ELEMENT_TOOLS = frozenset({CREATE_ELEMENT, LIST_ELEMENTS, GET_ELEMENT, DELETE_ELEMENT})
CREDITS = "kling_get_credits"
MODELS = "kling_list_models"
TOOLS = frozenset({GENERATE, TEXT, MOTION, GET, LIST, CREDITS, MODELS}) | ELEMENT_TOOLS
WATCH = "kling_watch_video_task"  # app-only: listed to MCP Apps hosts, for the player view
