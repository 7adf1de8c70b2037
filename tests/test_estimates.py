"""Estimates of what a create will cost: the prior table for a profile never seen, then what Kling charged."""

from __future__ import annotations

import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.journal import open_journal
from kling_mcp.service.prepare.estimates import Estimate, Profile, by_rate, estimate, learned, prior, profile_of
from kling_mcp.service.prepare.image_request import VideoRequest
from kling_mcp.service.prepare.motion_request import MotionRequest
from kling_mcp.service.prepare.text_request import TextVideoRequest
from tests.conftest import settled_journal_entry, text_of
from tests.names import MOTION, TEXT


@pytest.mark.parametrize(
    ("request_", "key"),
    [
        (VideoRequest(prompt="a cat", start_image_url="https://x/a.png"), "image2video/kling-v2-master/std/5s/silent"),
        (
            VideoRequest(prompt="a cat", start_image_url="https://x/a.png", model="kling-v3-omni", duration=7),
            "omni-video/kling-v3-omni/std/7s/silent",
        ),
        (
            TextVideoRequest(prompt="a cat", model="kling-v3", mode="pro", duration=10, generate_audio=True),
            "text2video/kling-v3/pro/10s/sound",
        ),
        (
            TextVideoRequest(prompt="a cat", model="kling-v2-6", generate_audio=False),
            "text2video/kling-v2-6/std/5s/silent",
        ),
        (  # a storyboard is priced apart; its length is the shots' sum
            TextVideoRequest.model_validate(
                {"prompt": "a cat", "model": "kling-v3", "multi_prompt": [{"prompt": "sits", "duration": 3}] * 2}
            ),
            "text2video/kling-v3/std/6s/silent/storyboard",
        ),
        (  # a specified voice turns sound on and is priced apart
            TextVideoRequest.model_validate(
                {"prompt": "<<<voice_1>>> says hi", "model": "kling-v3", "voice_list": [{"voice_id": "v1"}]}
            ),
            "text2video/kling-v3/std/5s/sound/voices",
        ),
    ],
)
def test_a_request_s_profile_names_every_billing_dimension(request_: VideoRequest | TextVideoRequest, key: str) -> None:
    assert profile_of(request_).key == key


@pytest.mark.parametrize(
    ("profile", "units"),
    [
        (Profile("image2video", "kling-v2-master", "std", 5), 10.0),
        (Profile("image2video", "kling-v2-master", "pro", 10), 20.0),
        (Profile("text2video", "kling-v3", "pro", 10, sound=True), 16.0),
        (Profile("image2video", "kling-v1", "std", 5), 1.0),
        (Profile("omni-video", "kling-v3-omni", "std", 3), 1.8),
        (Profile("text2video", "kling-v3", "4k", 10), 24.0),  # 4k: pro x 3, erring high
        (Profile("image2video", "kling-v9-future", "std", 5), 12.0),  # unknown: priced like the dearest (4k)
    ],
)
def test_the_prior_table_prices_a_profile_never_seen(profile: Profile, units: float) -> None:
    assert prior(profile) == Estimate(units, "prior")
    assert prior(profile).basis == "prior table"


def test_what_was_charged_wins_over_the_prior_its_median() -> None:
    assert learned([]) is None
    assert learned([4.0]) == Estimate(4.0, "learned", 1)
    assert learned([4.0, 6.0, 100.0]) == Estimate(6.0, "learned", 3)
    assert learned([4.0]).basis == "learned from 1 task"  # type: ignore[union-attr]
    assert learned([4.0, 5.0]).basis == "learned from 2 tasks"  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_after_one_task_the_estimate_is_what_the_sandbox_charged(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    """A real create against the sandbox: its charge (the sandbox's own price table) teaches the estimate, which
    before it came from our prior table; the sandbox's Kling only (another API's tasks teach nothing)."""
    arguments = {"prompt": "a cat", "model": "kling-v3", "mode": "pro", "duration": 10, "generate_audio": True}
    profile = profile_of(TextVideoRequest.model_validate(arguments))
    journal = open_journal(settings.resolved_journal())
    try:
        assert estimate(journal, profile) == Estimate(16.0, "prior")
        result = await client.call_tool(TEXT, arguments)
        assert not result.is_error, text_of(result)
        task_id = result.structured_content["result"]["task_id"]
        entry = await settled_journal_entry(settings, task_id, "succeed")  # written just after the call answers
        assert entry is not None and entry.final_unit_deduction == "12"  # the sandbox: 4 per 5 s x 2 x 1.5 for sound
        assert estimate(journal, profile, kling_host=sandbox.url) == Estimate(12.0, "learned", 1)
        assert estimate(journal, profile, kling_host="https://api-singapore.klingai.com") == Estimate(16.0, "prior")
    finally:
        journal.close()


def test_a_length_only_kling_knows_is_priced_per_second_at_the_highest_rate_rounded_up() -> None:
    """Motion control: (units, seconds made) pairs teach a rate; the price is rate × the seconds being priced."""
    assert by_rate([], 30) is None
    assert by_rate([(0.9, 3.0)], 30) == Estimate(9.0, "learned", 1)  # 0.3/s, not the 0.9 a 3 s video cost
    assert by_rate([(0.9, 3.0), (3.3, 10.0)], 30, at_most=True) == Estimate(9.9, "learned", 2, at_most=True)
    assert by_rate([(1.0, 3.0)], 10) == Estimate(3.334, "learned", 1)  # never rounded down


MOTION_ARGS = {
    "image_url": "https://images.example.com/dancer.png",
    "video_url": "https://videos.example.com/sandbox/reference/3s.mp4",
    "character_orientation": "video",
}


@pytest.mark.anyio
async def test_a_short_motion_reference_teaches_a_rate_not_the_price_of_a_long_one(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    """A 3 s reference costs 0.9 at the sandbox (0.3 per second); the next motion create, whose reference may be
    30 s long, is priced at most 30 × 0.3 = 9 (learned), never the 0.9 a median of whole charges would say."""
    profile = profile_of(MotionRequest.model_validate(MOTION_ARGS))
    journal = open_journal(settings.resolved_journal())
    try:
        assert estimate(journal, profile) == Estimate(9.0, "prior", at_most=True)  # 1.5 per 5 s, for 30 s
        result = await client.call_tool(MOTION, MOTION_ARGS)
        assert not result.is_error, text_of(result)
        entry = await settled_journal_entry(settings, result.structured_content["result"]["task_id"], "succeed")
        assert entry is not None and entry.final_unit_deduction == "0.9"
        assert [v.get("duration") for v in entry.videos] == ["3"]  # the finished video's length is journaled
        assert estimate(journal, profile, kling_host=sandbox.url) == Estimate(9.0, "learned", 1, at_most=True)
        # A length known before the create (a local reference) is priced at that length, at the same rate.
        assert estimate(journal, profile, seconds=12, kling_host=sandbox.url) == Estimate(3.6, "learned", 1)
    finally:
        journal.close()
