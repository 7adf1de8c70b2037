"""The account's resource packs as `GET /account/costs` lists them (docs/kling-api.md: free, ≤ 1 query/s)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kling_mcp.api.errors import KlingProtocolError

COSTS_PATH = "/account/costs"  # uncertain: one client calls /v1/account/costs (docs/kling-api.md)


class ResourcePack(BaseModel):
    """One resource pack: what it held, what is left (lagging up to 12 h at Kling), and when it is valid (ms)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, defer_build=True)

    resource_pack_name: str = ""
    resource_pack_id: str = ""
    resource_pack_type: str | None = None
    total_quantity: float = 0.0
    remaining_quantity: float = 0.0
    purchase_time: int | None = None
    effective_time: int | None = None
    invalid_time: int | None = None
    status: str | None = None  # toBeOnline | online | expired | runOut


def parse_packs(data: Any) -> list[ResourcePack]:
    """The packs in a costs answer's `data`, or `KlingProtocolError` if it has none that can be read."""
    infos = data.get("resource_pack_subscribe_infos") if isinstance(data, dict) else None
    if not isinstance(infos, list):
        raise KlingProtocolError("Kling's account costs answer has no resource_pack_subscribe_infos list")
    try:
        return [ResourcePack.model_validate(info) for info in infos]
    except ValidationError as exc:
        problem = f"Kling's account costs answer lists an unreadable pack ({exc.error_count()} errors)"
        raise KlingProtocolError(problem) from None
