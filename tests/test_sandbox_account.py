"""The sandbox's account, over real HTTP: `GET /account/costs` and its rate limit, the price table and the packs
it debits (1102 when they are used up), and the account's concurrency limit (1303). Nothing refused is created.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SandboxConfig
from tests.sandbox_http import IMAGE, answer, finished, signed

NOW_MS = "9999999999999"
COSTS = f"/account/costs?start_time=0&end_time={NOW_MS}"


def _t2v(model: str, mode: str, duration: str, **extra: Any) -> dict[str, Any]:
    return {"model_name": model, "mode": mode, "duration": duration, "prompt": "a lantern sways", **extra}


def test_costs_lists_the_packs_in_klings_shape(sandbox: SandboxServer) -> None:
    with signed(sandbox) as http:
        status, code, data, _ = answer(http.get(COSTS))
    assert (status, code, data["code"], data["msg"]) == (200, 0, 0, "success")
    (pack,) = data["resource_pack_subscribe_infos"]
    assert pack["total_quantity"] == 100000 and pack["remaining_quantity"] == 100000
    assert pack["status"] == "online" and pack["resource_pack_type"] == "decreasing_total"
    assert {"resource_pack_name", "resource_pack_id", "purchase_time", "effective_time", "invalid_time"} <= set(pack)
    assert pack["effective_time"] < time.time() * 1000 < pack["invalid_time"]


def test_costs_lists_only_packs_bought_in_the_window_and_needs_one(sandbox: SandboxServer) -> None:
    with signed(sandbox) as http:
        _, code, data, _ = answer(http.get(f"/account/costs?start_time={NOW_MS}&end_time={NOW_MS}"))
        assert code == 0 and data["resource_pack_subscribe_infos"] == []
        sandbox.state.account.last_costs_query = None
        status, code, _, message = answer(http.get("/account/costs"))
    assert (status, code) == (400, 1201) and "start_time" in message


def test_costs_asked_faster_than_once_a_second_is_1302(sandbox: SandboxServer) -> None:
    sandbox.state.config = SandboxConfig(queue_seconds=0.01, run_seconds=0.04, costs_min_interval=0.2)
    with signed(sandbox) as http:
        assert answer(http.get(COSTS))[1] == 0
        status, code, _, _ = answer(http.get(COSTS))
        assert (status, code) == (429, 1302)
        time.sleep(0.25)
        assert answer(http.get(COSTS))[1] == 0


# (model, mode, duration, extra fields) → units, worked out by hand from the table in docs/kling-api.md.
PRICES = [
    ("kling-v1", "std", "5", {}, "1"),
    ("kling-v1", "pro", "10", {}, "7"),
    ("kling-v2-master", "std", "5", {}, "10"),
    ("kling-v2-6", "pro", "5", {"sound": "on"}, "3.75"),
    ("kling-v3", "std", "3", {}, "1.8"),
    ("kling-v3", "pro", "10", {"sound": "on"}, "12"),
    ("kling-v3", "pro", "10", {"sound": "on", "voice_list": [{"voice_id": "v-1"}]}, "16"),
    (
        "kling-v3",
        "std",
        "15",
        {"multi_shot": True, "shot_type": "customize", "multi_prompt": [{"prompt": "a", "duration": "15"}]},
        "9",
    ),
]


@pytest.mark.parametrize(("model", "mode", "duration", "extra", "units"), PRICES)
def test_a_finished_task_carries_its_price_and_the_pack_is_debited(
    sandbox: SandboxServer, model: str, mode: str, duration: str, extra: dict[str, Any], units: str
) -> None:
    with signed(sandbox) as http:
        body = _t2v(model, mode, duration, **extra)
        _, code, created, message = answer(http.post("/v1/videos/text2video", json=body))
        assert code == 0, message
        task = finished(http, f"/v1/videos/text2video/{created['task_id']}")
        _, _, costs, _ = answer(http.get(COSTS))
    assert task["task_status"] == "succeed" and task["final_unit_deduction"] == units
    assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 100000 - float(units)


def test_used_up_packs_refuse_a_create_with_1102_and_create_nothing(sandbox: SandboxServer) -> None:
    sandbox.state.account.set_remaining(5, time.time())
    with signed(sandbox) as http:
        status, code, _, _ = answer(http.post("/v1/videos/text2video", json=_t2v("kling-v3", "pro", "10")))
        assert (status, code) == (429, 1102) and sandbox.state.tasks == {}
        _, code, created, _ = answer(http.post("/v1/videos/text2video", json=_t2v("kling-v1", "std", "5")))
        assert code == 0 and list(sandbox.state.tasks) == [created["task_id"]]
        _, _, costs, _ = answer(http.get(COSTS))
    assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 4


def test_an_empty_pack_shows_run_out(sandbox: SandboxServer) -> None:
    sandbox.state.account.set_remaining(0, time.time())
    with signed(sandbox) as http:
        _, _, costs, _ = answer(http.get(COSTS))
        assert answer(http.post("/v1/videos/text2video", json=_t2v("kling-v1", "std", "5")))[1] == 1102
    assert costs["resource_pack_subscribe_infos"][0]["status"] == "runOut"


def test_a_failed_task_is_not_charged(sandbox: SandboxServer) -> None:
    sandbox.state.inject(fail_tasks=1)
    with signed(sandbox) as http:
        _, _, created, _ = answer(http.post("/v1/videos/text2video", json=_t2v("kling-v3", "pro", "10")))
        task = finished(http, f"/v1/videos/text2video/{created['task_id']}")
        _, _, costs, _ = answer(http.get(COSTS))
    assert task["task_status"] == "failed" and "final_unit_deduction" not in task
    assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 100000


def test_a_create_over_the_concurrency_limit_is_1303_until_a_slot_frees(sandbox: SandboxServer) -> None:
    sandbox.state.config = SandboxConfig(queue_seconds=0.05, run_seconds=0.3, concurrency_limit=1)
    with signed(sandbox) as http:
        body = {"model_name": "kling-v2-6", "image": IMAGE}
        _, code, first, _ = answer(http.post("/v1/videos/image2video", json=body))
        assert code == 0
        status, code, _, _ = answer(http.post("/v1/videos/image2video", json=body))
        assert (status, code) == (429, 1303) and list(sandbox.state.tasks) == [first["task_id"]]
        assert finished(http, f"/v1/videos/image2video/{first['task_id']}")["task_status"] == "succeed"
        assert answer(http.post("/v1/videos/image2video", json=body))[1] == 0


def test_the_account_knobs_reach_a_sandbox_in_another_process_over_http(sandbox: SandboxServer) -> None:
    knobs = httpx.post(f"{sandbox.url}/sandbox/account", json={"remaining": 0.5, "concurrency_limit": 3})
    assert knobs.status_code == 200 and knobs.json()["packs"][0]["remaining_quantity"] == 0.5
    assert sandbox.state.config.concurrency_limit == 3
    with signed(sandbox) as http:
        assert answer(http.post("/v1/videos/text2video", json=_t2v("kling-v1", "std", "5")))[1] == 1102
    assert httpx.post(f"{sandbox.url}/sandbox/account", json={"units": 1}).status_code == 400
