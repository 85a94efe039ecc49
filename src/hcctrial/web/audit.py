"""The audit trail of 21 CFR 11.10(e): who, when (UTC), what (old and new value) and why.

Every insert, update and delete that a session flushes on an audited table is written, in the
same transaction, as one ``audit_trail`` row: the user (``session.info["user"]``), the UTC time,
the table and row, every changed column with its old and new value (``{"column": [old, new]}``;
JSON columns are compared key by key as ``data.KEY``) and the reason
(``session.info["reason"]``). Credentials are redacted and a randomization slot's arm is
written as ``concealed`` until the slot is revealed.

Tamper evidence: each entry carries ``prev_hash`` and ``hash = SHA-256(canonical JSON of [seq,
at, user, action, table_name, row_id, changes, reason, prev_hash])``, a hash chain (as in
RFC 6962's Merkle log, reduced to a linear chain); ``audit_head`` holds the last sequence number
and hash, locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's single writer) while
entries are appended, so concurrent writers cannot fork the chain. Database triggers refuse
UPDATE and DELETE on ``audit_trail`` (append-only); :func:`verify_chain` recomputes every hash,
so a row edited or removed behind the triggers' back is found and named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from hcctrial.web.db import (
    AuditEntry,
    AuditHead,
    Base,
    LoginAttempt,
    WebSession,
    utcnow,
)

__all__ = [
    "GENESIS_HASH",
    "ChainCheck",
    "append_entries",
    "entry_hash",
    "install_audit_hooks",
    "verify_chain",
]

#: The ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64

_NOT_AUDITED: tuple[type[Base], ...] = (AuditEntry, AuditHead, WebSession, LoginAttempt)
_REDACTED = {("users", "password_hash"), ("api_tokens", "token_sha256")}
_SKIPPED = {"version"}


def _plain(value: Any) -> Any:
    """A JSON-ready form of a column value (dates as ISO 8601 text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces, UTF-8): the bytes the hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    seq: int,
    at: str,
    user: str,
    action: str,
    table_name: str,
    row_id: str,
    changes: str,
    reason: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 (FIPS 180-4) of the canonical JSON of the entry's fields and the previous hash."""
    payload = canonical_json(
        [seq, at, user, action, table_name, row_id, changes, reason, prev_hash]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PendingEntry:
    """An audit entry before it is chained."""

    action: str
    table_name: str
    row_id: str
    changes: dict[str, list[Any]]


def _column_changes(obj: Base, action: str) -> dict[str, list[Any]]:
    state = inspect(obj)
    table = obj.__table__.name  # type: ignore[attr-defined]
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in _SKIPPED:
            continue
        hist = state.attrs[key].history
        current = getattr(obj, key)
        if action == "create":
            old, new = None, current
        elif action == "delete":
            old, new = current if not hist.deleted else hist.deleted[0], None
        else:
            if not hist.has_changes():
                continue
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
        if (table, key) in _REDACTED:
            old = None if old is None else "[redacted]"
            new = None if new is None else "[redacted]"
        elif table == "randomization_slots" and key == "arm_code" and action == "create":
            new = "concealed"
        if isinstance(old, dict) or isinstance(new, dict):
            before, after = old or {}, new or {}
            for name in sorted(set(before) | set(after)):
                if before.get(name) != after.get(name) or action != "update":
                    changes[f"{key}.{name}"] = [
                        _plain(before.get(name)),
                        _plain(after.get(name)),
                    ]
            continue
        if action != "update" and current is None:
            continue
        changes[key] = [_plain(old), _plain(new)]
    return changes


def _row_id(obj: Base) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join(str(part) for part in key)


def append_entries(
    conn: Connection, user: str, reason: str | None, entries: list[PendingEntry]
) -> None:
    """Chain and insert ``entries`` after the current head, in the caller's transaction."""
    if not entries:
        return
    head = conn.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).first()
    if head is None:
        seq, prev = 0, GENESIS_HASH
        conn.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS_HASH))
    else:
        seq, prev = int(head.seq), str(head.hash)
    at = utcnow().isoformat(timespec="microseconds")
    rows = []
    for entry in entries:
        seq += 1
        changes = canonical_json(entry.changes)
        digest = entry_hash(
            seq, at, user, entry.action, entry.table_name, entry.row_id, changes, reason, prev
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "user": user,
                "action": entry.action,
                "table_name": entry.table_name,
                "row_id": entry.row_id,
                "changes": changes,
                "reason": reason,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(insert(AuditEntry), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def _after_flush(session: Session, flush_context: Any) -> None:
    entries: list[PendingEntry] = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not isinstance(obj, Base) or isinstance(obj, _NOT_AUDITED):
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _column_changes(obj, action)
            if action == "update" and not changes:
                continue
            table = obj.__table__.name  # type: ignore[attr-defined]
            entries.append(PendingEntry(action, table, _row_id(obj), changes))
    if not entries:
        return
    user = str(session.info.get("user") or "system")
    reason = session.info.get("reason")
    entries.sort(key=lambda e: (e.table_name, e.row_id, e.action))
    append_entries(session.connection(), user, reason, entries)


def install_audit_hooks(factory: sessionmaker[Any]) -> None:
    """Write an audit entry for every flushed change of the sessions ``factory`` makes."""
    event.listen(factory, "after_flush", _after_flush)


@dataclass
class ChainCheck:
    """The result of :func:`verify_chain`."""

    entries: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every hash and link holds and the head points at the last entry."""
        return not self.problems


def verify_chain(engine: Engine) -> ChainCheck:
    """Recompute the hash chain of the whole audit trail; name every entry that does not fit.

    Detects an edited entry (its hash no longer matches its content), a removed or inserted
    entry (a gap in ``seq`` or a broken ``prev_hash`` link) and a truncated tail (the head
    records a later entry than the last one present).
    """
    problems: list[str] = []
    count = 0
    prev = GENESIS_HASH
    expected_seq = 1
    with engine.connect() as conn:
        result = conn.execute(select(AuditEntry).order_by(AuditEntry.seq)).mappings()
        for row in result:
            count += 1
            seq = int(row["seq"])
            if seq != expected_seq:
                problems.append(f"entry {expected_seq}: missing (next entry present is {seq})")
            if row["prev_hash"] != prev:
                problems.append(
                    f"entry {seq}: prev_hash does not match the hash of entry {seq - 1}"
                )
            digest = entry_hash(
                seq,
                row["at"],
                row["user"],
                row["action"],
                row["table_name"],
                row["row_id"],
                row["changes"],
                row["reason"],
                row["prev_hash"],
            )
            if digest != row["hash"]:
                problems.append(
                    f"entry {seq} ({row['action']} {row['table_name']} {row['row_id']} "
                    f"by {row['user']} at {row['at']}): content does not match its hash"
                )
            prev = str(row["hash"])
            expected_seq = seq + 1
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is not None and (int(head.seq) != expected_seq - 1 or head.hash != prev):
        problems.append(
            f"audit head records entry {head.seq} but the trail ends at entry {expected_seq - 1}"
        )
    return ChainCheck(count, problems)
