"""The sandbox's custom elements (Kling's "advanced custom elements"): what a create body must hold, and the
account's elements, kept for the life of the sandbox. Creating one is a task: it is `submitted`, then `succeed`
with the element in `task_result.elements`; only then may `element_list` refer to it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from kling_mcp.sandbox.rules import image_error

MAX_NAME = 20
MAX_DESCRIPTION = 100
REFERENCE_TYPES = ("image_refer", "video_refer")
MIN_REFER_IMAGES, MAX_REFER_IMAGES = 1, 3
MAX_REFER_VIDEOS = 1
TAG_IDS = {f"o_{n}" for n in range(101, 109)}


def _images_error(images: Any) -> str | None:
    if not isinstance(images, dict):
        return "element_image_list is required when reference_type is image_refer"
    if problem := image_error("element_image_list.frontal_image", images.get("frontal_image"), check_aspect=False):
        return problem
    refer = images.get("refer_images")
    if not isinstance(refer, list) or not MIN_REFER_IMAGES <= len(refer) <= MAX_REFER_IMAGES:
        return f"element_image_list.refer_images must hold {MIN_REFER_IMAGES} to {MAX_REFER_IMAGES} images"
    for item in refer:
        url = item.get("image_url") if isinstance(item, dict) else None
        if problem := image_error("element_image_list.refer_images.image_url", url, check_aspect=False):
            return problem
    return None


def _videos_error(videos: Any) -> str | None:
    refer = videos.get("refer_videos") if isinstance(videos, dict) else None
    if not isinstance(refer, list) or not 1 <= len(refer) <= MAX_REFER_VIDEOS:
        return "element_video_list.refer_videos must hold one video when reference_type is video_refer"
    url = refer[0].get("video_url") if isinstance(refer[0], dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return "element_video_list.refer_videos.video_url must be an http(s) URL"
    return None


def element_create_error(body: dict[str, Any]) -> str | None:
    """Why Kling would refuse this element create body, or None."""
    name, description = body.get("element_name"), body.get("element_description")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        return f"element_name is required, at most {MAX_NAME} characters"
    if not isinstance(description, str) or not description.strip() or len(description) > MAX_DESCRIPTION:
        return f"element_description is required, at most {MAX_DESCRIPTION} characters"
    kind = body.get("reference_type")
    if kind not in REFERENCE_TYPES:
        return f"reference_type must be one of {', '.join(REFERENCE_TYPES)}"
    if kind == "image_refer":
        if problem := _images_error(body.get("element_image_list")):
            return problem
        if body.get("element_voice_id") is not None:
            return "element_voice_id is only supported with reference_type video_refer"
    elif problem := _videos_error(body.get("element_video_list")):
        return problem
    tags = body.get("tag_list", [])
    if not isinstance(tags, list) or any(not isinstance(t, dict) or t.get("tag_id") not in TAG_IDS for t in tags):
        return f"tag_list items need a tag_id among {', '.join(sorted(TAG_IDS))}"
    return None


@dataclass
class ElementTask:
    """One element's creation task, and the element it makes."""

    task_id: str
    element_id: str
    body: dict[str, Any]
    created_at: float
    finished_at: float
    external_task_id: str | None = None

    def status(self, now: float) -> str:
        """submitted → succeed, by the clock (the sandbox makes every valid element)."""
        return "succeed" if now >= self.finished_at else "submitted"

    def view(self, now: float) -> dict[str, Any]:
        """The task object as Kling returns it, with the element once made."""
        status = self.status(now)
        element = {
            "element_id": self.element_id,
            "element_name": self.body["element_name"],
            "element_description": self.body["element_description"],
            "reference_type": self.body["reference_type"],
            "tag_list": self.body.get("tag_list", []),
            "owned_by": "custom",
        }
        return {
            "task_id": self.task_id,
            "task_status": status,
            "task_status_msg": "",
            "task_info": {"external_task_id": self.external_task_id} if self.external_task_id else {},
            "task_result": {"elements": [element] if status == "succeed" else []},
            "created_at": int(self.created_at * 1000),
            "updated_at": int((min(now, self.finished_at) if status == "succeed" else now) * 1000),
        }


def new_element_task(body: dict[str, Any], now: float, seconds: float) -> ElementTask:
    """A creation task for a valid body, done after `seconds`."""
    return ElementTask(
        task_id=str(uuid.uuid4().int)[:18],
        element_id=str(uuid.uuid4().int)[:15],
        body=body,
        created_at=now,
        finished_at=now + seconds,
        external_task_id=body.get("external_task_id"),
    )


@dataclass
class ElementStore:
    """The account's element tasks by task id; an element is gone once deleted."""

    tasks: dict[str, ElementTask] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, task: ElementTask) -> None:
        with self.lock:
            self.tasks[task.task_id] = task

    def find(self, any_id: str) -> ElementTask | None:
        """A creation task by task id or external task id."""
        with self.lock:
            found = self.tasks.get(any_id)
            return found or next((t for t in self.tasks.values() if t.external_task_id == any_id), None)

    def listing(self) -> list[ElementTask]:
        """The element tasks, newest first."""
        with self.lock:
            return sorted(self.tasks.values(), key=lambda t: t.created_at, reverse=True)

    def exists(self, element_id: str, now: float) -> bool:
        """True if an element with this id has been made and not deleted."""
        with self.lock:
            return any(t.element_id == element_id and t.status(now) == "succeed" for t in self.tasks.values())

    def delete(self, element_id: str, now: float) -> bool:
        """Delete a made element (its task goes with it); False if there is none."""
        with self.lock:
            task = next((t for t in self.tasks.values() if t.element_id == element_id), None)
            if task is None or task.status(now) != "succeed":
                return False
            del self.tasks[task.task_id]
            return True
