"""Asking the user before a paid create: the final settings and the estimated cost, then exactly one create or none.

Kling's guidance for agents is to show the final settings, get explicit approval, submit once. The question goes
through the SDK's own way of asking (`Resolve`/`Elicit`): a standalone `elicitation/create` request in the
2025-11-25 protocol, an `InputRequiredResult` round trip in 2026-07-28. `KLING_MCP_CONFIRM_SPEND` says what happens
when the client cannot ask (it declared no elicitation capability): `auto` creates (and says so in the result),
`always` refuses before anything is sent, `off` never asks (docs/spending.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import (
    AcceptedElicitation,
    Elicit,
    ElicitationResult,
    Resolve,
    build_resolver_plans,
    find_resolved_parameters,
    resolve_arguments,
)
from mcp_types import InputRequiredResult
from pydantic import BaseModel, Field

from kling_mcp.server.access import caller_of
from kling_mcp.service.create.creating import Approval
from kling_mcp.service.describe.task_results import VideoTaskResult, declined
from kling_mcp.service.prepare.bodies import PreparedRequest
from kling_mcp.service.prepare.estimates import Estimate
from kling_mcp.service.prepare.motion_request import MotionRequest

if TYPE_CHECKING:
    from kling_mcp.server.context import AppContext

PROMPT_SHOWN = 160  # characters of the prompt the question shows
# The estimate's basis as the question words it: without the count of tasks, which may grow between the rounds of
# one call (2026-07-28), and an answer counts only for the question exactly as it was shown.
BASIS_SHOWN = {"learned": "what Kling charged for these settings before", "prior": "our price table"}
# A length only Kling knows is priced per second: the highest rate it charged before, times the longest video.
RATE_SHOWN = "the highest rate per second Kling charged for these settings before, for the longest reference"
CONFIRMED = "confirmed by the user"
NOT_ASKED_OFF = "not asked: KLING_MCP_CONFIRM_SPEND=off"
NOT_ASKED_CLIENT = "not asked: this client cannot ask the user (no MCP elicitation); KLING_MCP_CONFIRM_SPEND=auto"


class SpendApproval(BaseModel):
    """The answer the user gives (a form with one checkbox)."""

    approve: bool = Field(title="Create this paid video", description="Tick to create the task and spend the units.")


def _ask(question: str) -> Elicit[SpendApproval]:
    return Elicit(question, SpendApproval)


def _answered(answer: Annotated[ElicitationResult[SpendApproval], Resolve(_ask)]) -> None:
    """Only its signature is used: the SDK's plan for one question, resolved by `resolve_arguments`."""


_RESOLVED = find_resolved_parameters(_answered)
_PLANS = build_resolver_plans(_RESOLVED, {"question"})


def client_can_ask(ctx: Context) -> bool:
    """Whether the client declared it can put a form question to its user (as the SDK itself judges it). A
    stateless 2025-11-25 HTTP session keeps no client capabilities, so such a client counts as one that cannot."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _units(units: float) -> str:
    return f"{units:g} unit{'' if units == 1 else 's'}"


def question(prepared: PreparedRequest, estimate: Estimate) -> str:
    """What the user is shown: the settings that will be sent, the prompt's start and the estimated cost (a motion
    request's with the length this server read from its local reference, when it did). Nothing in it changes
    between the two calls of a 2026-07-28 round trip (an answer counts only for the question exactly as shown)."""
    request, profile, reference_seconds = prepared.request, prepared.profile, prepared.reference_seconds
    text = request.prompt or ""
    if not text and not isinstance(request, MotionRequest) and request.multi_prompt:  # a storyboard's shots carry it
        shots = request.multi_prompt
        text = f"(none: {len(shots)} shot{'s' * (len(shots) > 1)}; shot 1: {shots[0].prompt})"
    prompt = text if len(text) <= PROMPT_SHOWN else text[: PROMPT_SHOWN - 1] + "…"
    if isinstance(request, MotionRequest):  # as long as the reference video, shaped as the image
        length = f"{reference_seconds:g} s" if reference_seconds is not None else f"at most {profile.duration} s"
        shape = f"as long as the reference video ({length}), framed as the image"
        sound = f"the reference's sound {'kept' if request.keep_original_sound else 'not kept'}"
    else:
        ratio = "as the image" if profile.endpoint == "image2video" else request.aspect_ratio
        shape, sound = f"{profile.duration} s, aspect ratio {ratio}", f"sound {'on' if profile.sound else 'off'}"
    return "\n".join(
        [
            "Create a paid Kling video?",
            f"Model: {request.model}, mode {request.mode}, {shape}, {sound}.",
            f"Prompt: {prompt or '(none)'}",
            *(f"Note: {note}." for note in prepared.notes),
            f"Estimated cost: {'at most ' if estimate.at_most else ''}{_units(estimate.units)} "
            f"({RATE_SHOWN if estimate.at_most and estimate.source == 'learned' else BASIS_SHOWN[estimate.source]}); "
            "Kling bills the task once it is created.",
            "Nothing is sent to Kling unless you approve.",
        ]
    )


def refused_without_asking(estimate: Estimate) -> ToolError:
    """The error when the rule says ask and the client cannot: nothing was sent."""
    return ToolError(
        "Not created: this server asks the user before every paid create (KLING_MCP_CONFIRM_SPEND=always), and "
        "this client cannot ask (it does not support MCP elicitation). No request was sent to Kling and nothing "
        f"was charged (estimated cost: {_units(estimate.units)}). Use a client that supports elicitation, or ask "
        "the server's operator."
    )


async def approve(
    ctx: Context, app: AppContext, prepared: PreparedRequest
) -> Approval | VideoTaskResult | InputRequiredResult:
    """The rule before every paid create of the call's `prepared` request (so every local check has passed: nobody
    is asked to approve a doomed request): an `Approval` to create with; a `declined` result (the user said no:
    nothing is sent); or, in the 2026-07-28 protocol, the `InputRequiredResult` that asks (the tool returns it and
    the client calls again with the answer). Raises a tool error when the rule is `always` and the client cannot ask,
    and the spend limit's error when the create would pass it (before anyone is asked).
    """
    service = await app.service()
    estimate = await service.estimate(prepared.profile)
    mode = app.settings.confirm_spend
    if mode == "off":
        return Approval(estimate, NOT_ASKED_OFF)
    if not client_can_ask(ctx):
        if mode == "always":
            raise refused_without_asking(estimate)
        return Approval(estimate, NOT_ASKED_CLIENT)
    await service.check_spend(caller_of(ctx).viewer.owner, estimate.units)  # nobody approves what the limit refuses
    resolved = await resolve_arguments(_RESOLVED, _PLANS, {"question": question(prepared, estimate)}, ctx)
    if isinstance(resolved, InputRequiredResult):
        return resolved
    answer: ElicitationResult[SpendApproval] = resolved["answer"]
    if isinstance(answer, AcceptedElicitation) and answer.data.approve:
        return Approval(estimate, CONFIRMED)
    said = "declined" if answer.action != "cancel" else "cancelled"
    return declined(prepared.request.model, said, estimate.units, estimate.basis)
