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

MOTION_DESCRIPTION = f"""Generate AI video by motion control: the character in image_url (forms as for \
{GENERATE_TOOL}) performs the motion of the reference video at video_url (mp4/mov: an http(s) URL, or a local file \
inside the file roots when the server has a public URL to lend it to Kling). \
character_orientation 'image' takes a 3-10 s reference, 'video' 3-30 s; the video is as long as the reference and \
billed for that length.

{COST_AND_TIME}"""

LIST_DESCRIPTION = """Recent Kling video tasks in this server's journal (newest first, any session): find a lost \
task_id. Costs nothing; does not contact Kling."""

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
left out): their element_id, name and status. Costs nothing; asks Kling (free) only about up to 3 creations whose \
outcome is still unknown long after they were attempted."""

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

MODELS_DESCRIPTION = f"""What each Kling model takes (tool, modes, durations, aspect ratios, arguments); also the \
resource {CAPABILITIES_URI}. Costs nothing."""

CAPABILITIES_DESCRIPTION = (
    "What each Kling model takes (modes, durations, aspect ratios, arguments), from the capability table; JSON."
)
