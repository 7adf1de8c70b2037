"""What the model reads: the tools' names, descriptions and the server's instructions."""

from __future__ import annotations

GENERATE_TOOL = "kling_generate_video_from_image"
TEXT_TOOL = "kling_generate_video_from_text"
MOTION_TOOL = "kling_generate_video_from_motion"
CREATE_ELEMENT_TOOL = "kling_create_element"
LIST_ELEMENTS_TOOL = "kling_list_elements"
GET_ELEMENT_TOOL = "kling_get_element"
DELETE_ELEMENT_TOOL = "kling_delete_element"
GET_TOOL = "kling_get_video_task"
LIST_TOOL = "kling_list_video_tasks"
CREDITS_TOOL = "kling_get_credits"
WATCH_TOOL = "kling_watch_video_task"  # app-only: the player's follow tool (server/apps.py)

COST_AND_TIME = f"""Cost and time: every call creates one paid Kling task (more credits for 'pro', longer durations \
and audio). Videos usually take 30 s to several minutes. The call waits for the video up to the smaller of \
`timeout` and the server's cap (default 50 s), reporting progress meanwhile. If the video is not ready by then it \
returns the task_id with status 'submitted' or 'processing' - that is not an error: call {GET_TOOL} with that \
task_id and wait_seconds=50, again until `done` is true. Never call this tool again for the same video: that would \
pay for a second task."""

RETURNS = """Returns:
Task ID and generated video information including URLs and state (structured `result`). Show the video URL to the \
user: Kling deletes videos after 30 days. When the server saves videos (KLING_MCP_DOWNLOAD_DIR), each video's \
local_path says where."""

GENERATE_DESCRIPTION = f"""Generate AI video by animating a start image, end image, or both. Describe motion and \
transitions in a prompt. Supports various models and durations; the video keeps the image's aspect ratio (only the \
omni models, kling-v3-omni and kling-video-o1, take aspect_ratio).

Generate AI video using reference images as start and/or end frames. This allows you to control the video by \
specifying what the first frame and/or last frame should look like. Kling will generate smooth motion between them.
Use this when:
- You have a specific image you want to animate
- You want to create a video transition between two images
- You need precise control over the video's visual content
At least one of start_image_url or end_image_url must be provided.

{COST_AND_TIME}

{RETURNS}"""

TEXT_DESCRIPTION = f"""Generate AI video from a text prompt alone: no image needed. Describe the subject, setting, \
motion, camera and style; choose the aspect ratio (16:9, 9:16 or 1:1).

Use this when there is no picture to start from; to animate an existing image, or to move between two images, use \
{GENERATE_TOOL}.

{COST_AND_TIME}

{RETURNS}"""

MOTION_DESCRIPTION = f"""Generate AI video by motion control: the character in an image performs the motion of a \
reference video (dance, gestures, actions), at Kling's motion-control endpoint (kling-v2-6 or kling-v3).

Give image_url (the character: a URL, base64, or a local file as for {GENERATE_TOOL}) and video_url (the reference \
video: an http(s) URL Kling can fetch, mp4 or mov; Kling takes no local video here), and character_orientation: \
'image' keeps the image's orientation (reference 3-10 s), 'video' follows the video's (3-30 s). The result is as long \
as the reference video, and is billed for that length. keep_original_sound keeps the reference's sound; an optional \
prompt adds scene or style details.

{COST_AND_TIME}

{RETURNS}"""

GET_DESCRIPTION = f"""Check a Kling video task created by {GENERATE_TOOL}, {TEXT_TOOL} or {MOTION_TOOL}; \
optionally wait for it and save the video.

Pass the task_id (or external_task_id) that the generate tool returned, also after that call timed out or the client \
restarted. With wait_seconds > 0 the call waits up to that long (capped by the server, default 50 s) for the video; \
if the task is still not done, call again. Costs nothing at Kling. Returns the same structured task object: status, \
and the video URLs once status is 'succeed'. With download=true the finished MP4 is also saved on the server's disk \
and its path returned as local_path (Kling deletes videos after 30 days). A failed task is reported as an error \
with Kling's reason."""

LIST_DESCRIPTION = """List recent Kling video tasks from this server's task journal (newest first), including tasks \
from earlier sessions or calls that timed out: use it to find a task_id you no longer have. Costs nothing and does \
not contact Kling; use kling_get_video_task for a task's current state."""

INSTRUCTIONS = (
    "Generates videos with Kling from still images, from a text prompt, or from an image and a reference video's "
    f"motion (each created task is billed by Kling). Call {GENERATE_TOOL}, {TEXT_TOOL} or {MOTION_TOOL} once per "
    f"video; if it returns before the video is ready, poll {GET_TOOL} "
    f"with the task_id instead of generating again. {LIST_TOOL} shows recent tasks, including ones from earlier "
    "sessions."
)

WATCH_DESCRIPTION = """For the kling-mcp player view only: the state of one Kling video task, what it was asked to \
make, when tasks like it usually finish and when to ask again. Waits up to wait_seconds for the task to finish. \
Costs nothing at Kling."""

CREATE_ELEMENT_DESCRIPTION = f"""Create a Kling custom element: a character or object made from images, kept at Kling \
so videos can show the same one again (its element_id goes in a generate call's element_list, kling-v3).

Give element_name (at most 20 characters), element_description (at most 100), frontal_image (a front view) and \
refer_images (1 to 3 more views of the same subject); images take the same forms and checks as {GENERATE_TOOL}'s \
(URL, base64, or a local file within the server's roots). Making an element is a task at Kling, usually seconds: \
the call waits up to the smaller of `timeout` and the server's cap. If it returns before the element is made, look \
it up with {GET_ELEMENT_TOOL} and the task_id it returned; do not create it again.

Returns the element (structured `result`): element_id once made, status, task ids and the next step."""

LIST_ELEMENTS_DESCRIPTION = """List your Kling custom elements from this server's journal (newest first; deleted ones \
left out): their element_id, name and status. Costs nothing and does not contact Kling."""

GET_ELEMENT_DESCRIPTION = f"""Look up one of your Kling custom elements by its element_id, or its creation by the \
task_id / external_task_id {CREATE_ELEMENT_TOOL} returned: its status and, once made, its element_id. Asks Kling \
(free)."""

DELETE_ELEMENT_DESCRIPTION = """Delete one of your Kling custom elements at Kling, by element_id. It can no longer be \
used in element_list; videos already made keep it. Cannot be undone."""

CREDITS_DESCRIPTION = """Show the Kling account's remaining credits: each resource pack (units bought, units left, \
status, expiry) and the units left in the online ones, plus what you spent in the last 24 h and your spend limit, \
if the server sets one. Costs nothing and creates nothing. Kling's remaining figures lag up to 12 hours behind \
spending. Use it before generating many videos, or after a create failed with Kling error 1102 (packs used up: top \
up at Kling)."""
