"""The sandbox's account: resource packs (`GET /account/costs`), its price table, and what a task is charged.

Kling publishes its prices per model and mode, not a formula; the table below is the sandbox's own, shaped like
Kling's (units per 5 s of video, more with audio, more again with a specified voice) so that tests can predict a
charge by hand. Each uncertain rule is one line here: see docs/kling-api.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY = 24 * 3600.0

# Units charged for 5 s of video, by (model, mode); a task is charged pro rata to its video's length.
UNITS_PER_5S: dict[tuple[str, str], float] = {
    ("kling-v1", "std"): 1.0,
    ("kling-v1", "pro"): 3.5,
    ("kling-v1-5", "std"): 2.0,
    ("kling-v1-5", "pro"): 3.5,
    ("kling-v1-6", "std"): 2.0,
    ("kling-v1-6", "pro"): 3.5,
    ("kling-v2-master", "std"): 10.0,
    ("kling-v2-master", "pro"): 10.0,
    ("kling-v2-1", "std"): 2.0,
    ("kling-v2-1", "pro"): 3.5,
    ("kling-v2-1-master", "std"): 10.0,
    ("kling-v2-1-master", "pro"): 10.0,
    ("kling-v2-5-turbo", "std"): 1.5,
    ("kling-v2-5-turbo", "pro"): 2.5,
    ("kling-v2-6", "std"): 1.5,
    ("kling-v2-6", "pro"): 2.5,
    ("kling-v3", "std"): 3.0,
    ("kling-v3", "pro"): 4.0,
    ("kling-v3-omni", "std"): 3.0,
    ("kling-v3-omni", "pro"): 4.0,
    ("kling-v3", "4k"): 8.0,  # uncertain: 4k's price is not in the notes; read as twice pro
    ("kling-v3-omni", "4k"): 8.0,
    ("kling-video-o1", "std"): 3.0,
    ("kling-video-o1", "pro"): 4.0,
}
# Factor by audio: none, native sound ("on"), native sound "with specified voice" (a `voice_list`).
AUDIO_FACTORS = {"off": 1.0, "on": 1.5, "voice": 2.0}
MULTI_SHOT_FACTOR = 1.0  # uncertain: a storyboard is read as billed like one video of its total length
BILL_FAILED_TASKS = False  # a task that ends `failed` is not charged (its units go back at once)
DEFAULT_PACK_UNITS = 100_000.0  # the default pack: large, so tests that do not care never run out


@dataclass(frozen=True)
class Charge:
    """What decides a task's price: the sandbox's price-table key."""

    model: str
    mode: str
    seconds: float
    sound: bool = False
    voice: bool = False
    multi_shot: bool = False


def price_units(charge: Charge) -> float:
    """Units a finished task of this profile is charged."""
    base = UNITS_PER_5S.get((charge.model, charge.mode), UNITS_PER_5S.get((charge.model, "std"), 1.0))
    audio = AUDIO_FACTORS["voice" if charge.voice else "on" if charge.sound else "off"]
    shots = MULTI_SHOT_FACTOR if charge.multi_shot else 1.0
    return round(base * charge.seconds / 5 * audio * shots, 3)


def units_text(units: float) -> str:
    """Units as Kling writes them in `final_unit_deduction`: a string, no trailing zeros ("4", "1.5")."""
    return f"{units:g}"


@dataclass
class ResourcePack:
    """One resource pack of the account, as `GET /account/costs` lists it. Times are epoch seconds."""

    name: str
    pack_id: str
    total: float
    remaining: float
    purchase_time: float
    effective_time: float
    invalid_time: float
    pack_type: str = "decreasing_total"  # Kling also has "constant_period"

    def status(self, now: float) -> str:
        """toBeOnline → online → runOut | expired."""
        if now < self.effective_time:
            return "toBeOnline"
        if now >= self.invalid_time:
            return "expired"
        return "runOut" if self.remaining <= 0 else "online"

    def view(self, now: float) -> dict[str, Any]:
        """The pack as Kling lists it (times in ms)."""
        return {
            "resource_pack_name": self.name,
            "resource_pack_id": self.pack_id,
            "resource_pack_type": self.pack_type,
            "total_quantity": self.total,
            "remaining_quantity": round(self.remaining, 3),
            "purchase_time": int(self.purchase_time * 1000),
            "effective_time": int(self.effective_time * 1000),
            "invalid_time": int(self.invalid_time * 1000),
            "status": self.status(now),
        }


def default_packs(now: float, units: float = DEFAULT_PACK_UNITS) -> list[ResourcePack]:
    """The sandbox account's one video pack: bought a day ago, valid for a year."""
    return [
        ResourcePack(
            name="Sandbox video pack",
            pack_id="sandbox-pack-0001",
            total=units,
            remaining=units,
            purchase_time=now - DAY,
            effective_time=now - DAY,
            invalid_time=now + 365 * DAY,
        )
    ]


@dataclass
class Account:
    """The account's packs and its last costs query. Callers hold the sandbox state's lock."""

    packs: list[ResourcePack] = field(default_factory=list)
    last_costs_query: float | None = None

    def usable(self, now: float) -> float:
        """Units left in the packs that are online now."""
        return sum(p.remaining for p in self.packs if p.status(now) == "online")

    def charge(self, units: float, now: float) -> list[tuple[ResourcePack, float]]:
        """Debit `units`, soonest-expiring online pack first; returns what came from which pack."""
        debits: list[tuple[ResourcePack, float]] = []
        left = units
        for pack in sorted(self.packs, key=lambda p: p.invalid_time):
            if left <= 0:
                break
            if pack.status(now) != "online":
                continue
            taken = min(pack.remaining, left)
            pack.remaining -= taken
            left -= taken
            debits.append((pack, taken))
        return debits

    def set_remaining(self, units: float, now: float) -> None:
        """The knob for tests: the first pack holds `units` (its total raised if needed), any others nothing."""
        if not self.packs:
            self.packs = default_packs(now, units)
        for i, pack in enumerate(self.packs):
            pack.remaining = units if i == 0 else 0.0
            pack.total = max(pack.total, pack.remaining)

    def costs(self, start: float, end: float, name: str | None, now: float) -> dict[str, Any]:
        """`GET /account/costs`'s data: the packs purchased within [start, end] (seconds), optionally by name."""
        chosen = [p for p in self.packs if start <= p.purchase_time <= end and name in (None, p.name)]
        return {"code": 0, "msg": "success", "resource_pack_subscribe_infos": [p.view(now) for p in chosen]}
