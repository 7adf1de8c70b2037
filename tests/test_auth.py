"""Request signing: the JWT's claims, its cache and re-signing, and what a wrong key looks like to the caller."""

from __future__ import annotations

import logging
import warnings

import jwt
import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.api.signing import NOT_BEFORE_SKEW_SECONDS, RESIGN_MARGIN_SECONDS, TOKEN_LIFETIME_SECONDS, JwtSigner
from kling_mcp.sandbox.runner import SandboxServer
from tests.clocks import HandClock
from tests.conftest import text_of

SECRET = SecretStr("a-secret-key-of-at-least-32-bytes-long")


def test_token_claims_follow_kling() -> None:
    clock = HandClock(1_800_000_000.0)
    token = JwtSigner("my-access-key", SECRET, clock=clock).token()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(
        token, SECRET.get_secret_value(), algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims == {
        "iss": "my-access-key",
        "exp": 1_800_000_000 + TOKEN_LIFETIME_SECONDS,
        "nbf": 1_800_000_000 - NOT_BEFORE_SKEW_SECONDS,
    }


def test_token_is_reused_then_resigned_before_expiry() -> None:
    clock = HandClock(1_800_000_000.0)
    signer = JwtSigner("ak", SECRET, clock=clock)
    first = signer.token()
    clock.now += TOKEN_LIFETIME_SECONDS - RESIGN_MARGIN_SECONDS - 1
    assert signer.token() == first, "a token is reused while it has more than the margin left"
    clock.now += 2
    second = signer.token()
    assert second != first
    claims = jwt.decode(
        second, SECRET.get_secret_value(), algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims["exp"] == int(clock.now) + TOKEN_LIFETIME_SECONDS


def test_invalidate_forces_a_new_token() -> None:
    clock = HandClock(1_800_000_000.0)
    signer = JwtSigner("ak", SECRET, clock=clock)
    first = signer.token()
    clock.now += 1
    signer.invalidate()
    assert signer.token() != first


def test_a_token_resigned_in_the_same_second_still_differs() -> None:
    """After Kling refuses a token (1004), the next one must not be the very same string."""
    clock = HandClock(1_800_000_000.0)
    signer = JwtSigner("ak", SECRET, clock=clock)
    first = signer.token()
    signer.invalidate()
    second = signer.token()
    assert second != first
    claims = jwt.decode(
        second, SECRET.get_secret_value(), algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims["nbf"] <= clock.now, "the fresh token must already be valid"


def test_concurrent_refusals_of_one_token_resign_once_and_nbf_stays_in_the_past() -> None:
    clock = HandClock(1_800_000_000.0)
    signer = JwtSigner("ak", SECRET, clock=clock)
    refused = signer.token()
    for _ in range(50):  # fifty requests refused with the same token at once
        signer.invalidate(refused=refused)
    fresh = signer.token()
    assert fresh != refused
    for _ in range(10):  # even a string of refusals never pushes nbf into the future
        signer.invalidate(refused=signer.token())
    claims = jwt.decode(
        signer.token(),
        SECRET.get_secret_value(),
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims["nbf"] <= clock.now


def test_signer_repr_hides_keys() -> None:
    text = repr(JwtSigner("abcdefgh-access", SECRET))
    assert "abcdefgh-access" not in text and SECRET.get_secret_value() not in text


@pytest.mark.anyio
async def test_wrong_secret_key_gets_klings_401_and_a_clear_tool_error(
    server_factory: object, sandbox: SandboxServer
) -> None:
    server = server_factory(KLING_SECRET_KEY="not-the-sandbox-secret-key-0000000000")  # type: ignore[operator]
    async with Client(server) as client:
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "x", "start_image_url": "https://example.com/a.png"}
        )
    assert result.is_error
    text = text_of(result)
    assert "1000" in text and "KLING_ACCESS_KEY" in text and "request_id" in text
    assert "not-the-sandbox-secret" not in text
    assert sandbox.state.tasks == {}
    assert len(sandbox.state.creates()) == 1, "an auth failure is not retried"


@pytest.mark.anyio
async def test_expired_token_is_resigned_once_and_the_call_succeeds(
    server_factory: object, sandbox: SandboxServer
) -> None:
    sandbox.state.inject(token_expired=1)
    async with Client(server_factory()) as client:  # type: ignore[operator]
        result = await client.call_tool(
            "kling_generate_video_from_image", {"prompt": "x", "start_image_url": "https://example.com/a.png"}
        )
    assert not result.is_error, text_of(result)
    assert len(sandbox.state.tasks) == 1
    first, second = sandbox.state.creates()
    assert first.authorization != second.authorization, "refused once with 1004, then sent with a fresh token"


@pytest.mark.anyio
async def test_the_token_in_use_expires_between_calls_and_is_replaced_once(
    server_factory: object, sandbox: SandboxServer
) -> None:
    arguments = {"prompt": "x", "start_image_url": "https://example.com/a.png"}
    async with Client(server_factory()) as client:  # type: ignore[operator]
        assert not (await client.call_tool("kling_generate_video_from_image", arguments)).is_error
        in_use = sandbox.state.creates()[0].authorization
        sandbox.state.inject(token_expired=1)
        result = await client.call_tool("kling_generate_video_from_image", arguments)
    assert not result.is_error, text_of(result)
    assert len(sandbox.state.tasks) == 2
    refused, resent = sandbox.state.creates()[1:]
    assert refused.authorization == in_use, "the cached token was sent and refused with 1004"
    assert resent.authorization != in_use, "then the call signed a fresh one"
    assert sandbox.state.fault_hits["token_expired"] == 1


@pytest.mark.anyio
async def test_a_short_secret_key_is_named_once_not_warned_about_on_every_call(
    server_factory: object, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kling_mcp")
    server = server_factory(KLING_SECRET_KEY="short-key")  # type: ignore[operator]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        async with Client(server) as client:
            for _ in range(3):  # each refusal drops the token, so each call signs a new one
                result = await client.call_tool(
                    "kling_generate_video_from_image", {"prompt": "x", "start_image_url": "https://example.com/a.png"}
                )
                assert result.is_error and "Kling error 1000" in text_of(result), text_of(result)
    assert [w.message for w in seen if issubclass(w.category, jwt.InsecureKeyLengthWarning)] == []
    said = [r.getMessage() for r in caplog.records if "KLING_SECRET_KEY" in r.getMessage()]
    assert said == [
        "KLING_SECRET_KEY is only 9 bytes long (a secure HS256 key has at least 32): check that it was copied whole "
        "from https://app.klingai.com/global/dev"
    ]
    assert len(sandbox.state.creates()) == 3
