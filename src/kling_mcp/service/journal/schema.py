"""The journal's schema as numbered migrations, written once for SQLite and PostgreSQL.

A journal records the number of the last migration applied in `journal_schema`; at start each backend applies the
ones it lacks, in order, each in its own transaction. Migrations only ever add (tables, columns, indexes), so a
replica still running the previous release keeps working against a journal a newer replica has upgraded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """What differs between the two databases in the SQL the journal writes."""

    name: str
    param: str  # the placeholder the driver wants where the shared SQL says `?`
    same: str  # null-safe equality: SQLite's `IS`, PostgreSQL's `IS NOT DISTINCT FROM`
    float_type: str
    bigint_type: str
    owner_lock: str = ""  # a statement serialising one owner's spend checks (SQLite: BEGIN IMMEDIATE does already)

    def render(self, sql: str) -> str:
        """Shared SQL (with `?` placeholders) in this dialect."""
        return sql.replace("?", self.param)


SQLITE = Dialect("sqlite", param="?", same="IS", float_type="REAL", bigint_type="INTEGER")
POSTGRESQL = Dialect(
    "postgresql",
    param="%s",
    same="IS NOT DISTINCT FROM",
    float_type="DOUBLE PRECISION",
    bigint_type="BIGINT",
    owner_lock="SELECT pg_advisory_xact_lock(?)",
)

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS journal_schema (version INTEGER NOT NULL)"

# Migration N is MIGRATIONS[N - 1]. Number 1 is the table kling-mcp 0.1 created before the schema had a version;
# its IF NOT EXISTS adopts such a journal as it is.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS tasks (
            external_task_id TEXT PRIMARY KEY,
            task_id          TEXT UNIQUE,
            endpoint         TEXT NOT NULL,
            model            TEXT NOT NULL,
            mode             TEXT,
            duration         INTEGER,
            prompt           TEXT NOT NULL,
            start_image      TEXT,
            end_image        TEXT,
            status           TEXT NOT NULL,
            status_message   TEXT,
            videos           TEXT NOT NULL DEFAULT '[]',
            kling_created_ms {bigint},
            kling_updated_ms {bigint},
            created_at       {float} NOT NULL,
            updated_at       {float} NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at DESC)",
        "CREATE INDEX IF NOT EXISTS tasks_by_profile ON tasks (model, mode, duration, status)",
    ),
    # 2: handles of the MCP tasks protocol (kling_mcp.server.tasks), one per MCP task, on journaled Kling tasks.
    (
        """CREATE TABLE IF NOT EXISTS task_handles (
            handle_id        TEXT PRIMARY KEY,
            external_task_id TEXT NOT NULL,
            owner            TEXT NOT NULL,
            tool             TEXT NOT NULL,
            download         INTEGER,
            ttl_ms           {bigint},
            created_at       {float} NOT NULL,
            cancelled_at     {float}
        )""",
        "CREATE INDEX IF NOT EXISTS task_handles_by_owner ON task_handles (owner, created_at DESC)",
    ),
    # 3: the Kling API (base URL) a task lives at. A task is only reachable there: one made against a sandbox, or
    # the other Kling site, must not be answered from the journal as if this server's Kling had it.
    ("ALTER TABLE tasks ADD COLUMN kling_host TEXT",),
    # 4: the caller's own callback_url, which the server relays Kling's callbacks to (kling-mcp 0.2).
    ("ALTER TABLE tasks ADD COLUMN callback_url TEXT",),
    # 5: tasks belong to someone (service.owners). Entries from before stay ownerless: only admins see them.
    (
        "ALTER TABLE tasks ADD COLUMN owner TEXT",
        "CREATE INDEX IF NOT EXISTS tasks_by_owner ON tasks (owner, created_at DESC)",
    ),
    # 6: what Kling charged for the task (its final_unit_deduction, a string), once it reports it.
    ("ALTER TABLE tasks ADD COLUMN final_unit_deduction TEXT",),
    # 7: the last status relayed to the caller's callback_url, so every replica relays each status once.
    ("ALTER TABLE tasks ADD COLUMN relayed_status TEXT",),
    # 8: custom elements (issue 23): who made which element, journaled before its create as tasks are.
    (
        """CREATE TABLE IF NOT EXISTS elements (
            external_task_id TEXT PRIMARY KEY,
            task_id          TEXT UNIQUE,
            element_id       TEXT UNIQUE,
            element_name     TEXT NOT NULL,
            owner            TEXT,
            kling_host       TEXT,
            status           TEXT NOT NULL,
            status_message   TEXT,
            created_at       {float} NOT NULL,
            updated_at       {float} NOT NULL,
            deleted_at       {float}
        )""",
        "CREATE INDEX IF NOT EXISTS elements_by_owner ON elements (owner, created_at DESC)",
    ),
    # 9: what decides a task's price (its billing profile, `service/prepare/estimates.Profile.key`) and the units
    # estimated before its create: estimates learn from what Kling charged earlier tasks of the same profile.
    (
        "ALTER TABLE tasks ADD COLUMN profile TEXT",
        "ALTER TABLE tasks ADD COLUMN estimated_units {float}",
        "CREATE INDEX IF NOT EXISTS tasks_by_billing_profile ON tasks (profile, status, created_at DESC)",
    ),
    # 10: spend limits (service/limits/): the per-owner limits an operator set (`kling-mcp spend-limit`). What an
    # owner spent is read from `tasks` (final_unit_deduction, else estimated_units).
    (
        """CREATE TABLE IF NOT EXISTS spend_limits (
            owner  TEXT PRIMARY KEY,
            units  {float} NOT NULL,
            set_at {float} NOT NULL
        )""",
    ),
    # 11: how each task's spend was approved ("confirmed by the user", "not asked: ..."): the team's audit trail.
    ("ALTER TABLE tasks ADD COLUMN spend_approval TEXT",),
    # 12: what a task was made from beyond the columns, as JSON (`entry.TaskSettings`): a storyboard's shots and
    # shot_type, a motion task's reference video, orientation and sound. Later settings join it without a migration.
    ("ALTER TABLE tasks ADD COLUMN settings TEXT",),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migration(number: int, dialect: Dialect) -> list[str]:
    """The statements of migration `number` (1-based) in one dialect."""
    return [
        statement.format(float=dialect.float_type, bigint=dialect.bigint_type) for statement in MIGRATIONS[number - 1]
    ]
