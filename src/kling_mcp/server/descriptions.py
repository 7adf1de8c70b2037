"""What the model reads: the tools' names, descriptions and the server's instructions."""

from __future__ import annotations

GENERATE_TOOL = "kling_generate_video_from_image"
TEXT_TOOL = "kling_generate_video_from_text"
GET_TOOL = "kling_get_video_task"
LIST_TOOL = "kling_list_video_tasks"
WATCH_TOOL = "kling_watch_video_task"  # app-only: the player's follow tool (server/apps.py)
MODELS_TOOL = "kling_list_models"
CAPABILITIES_URI = "kling://capabilities"

COST_AND_TIME = f"""One paid Kling task per call; 30 s to several minutes. Not ready in time: the task_id returns; \
call {GET_TOOL} with that task_id and wait_seconds=50 until `done`. Never call this tool again for the same video: \
that pays twice. Kling deletes videos after 30 days."""

KLING3 = f"Per model (v3: storyboards, elements, voices): {MODELS_TOOL}."

GENERATE_DESCRIPTION = f"""Generate AI video by animating a start image, end image, or both. The video keeps the \
image's aspect ratio. {KLING3}

{COST_AND_TIME}"""

TEXT_DESCRIPTION = f"""Generate AI video from a text prompt alone (from an image: {GENERATE_TOOL}). {KLING3}

{COST_AND_TIME}"""

GET_DESCRIPTION = """Check a task a generate tool made (also after it timed out, or in a later session). Costs \
nothing at Kling. download=true also saves the MP4 on the server. A failed task is an error with \
Kling's reason."""

LIST_DESCRIPTION = """Recent Kling video tasks in this server's journal (newest first, any session): find a lost \
task_id. Costs nothing; does not contact Kling."""

INSTRUCTIONS = (
    "Generates videos with Kling from still images or from a text prompt (each created task is billed by Kling). "
    f"Call {GENERATE_TOOL} or {TEXT_TOOL} once per video; if it returns before the video is ready, poll {GET_TOOL} "
    f"with the task_id instead of generating again. {LIST_TOOL} shows recent tasks, including ones from earlier "
    "sessions."
)

WATCH_DESCRIPTION = """For the kling-mcp player view only: the state of one Kling video task, what it was asked to \
make, when tasks like it usually finish and when to ask again. Waits up to wait_seconds for the task to finish. \
Costs nothing at Kling."""

MODELS_DESCRIPTION = f"""What each Kling model takes (tool, modes, durations, aspect ratios, arguments); also the \
resource {CAPABILITIES_URI}. Costs nothing."""

CAPABILITIES_DESCRIPTION = (
    "What each Kling model takes (modes, durations, aspect ratios, arguments), from the capability table; JSON."
)
