"""Concealed, seeded, stratified permuted-block randomization.

The list is generated once at study set-up (:func:`generate_allocations`) and stored; nothing
exposes it. :func:`randomize_subject` reveals the next free slot of the subject's stratum, and
only then; every reveal is written to the audit trail (action ``reveal``, with the arm).

Method: within each stratum (every combination of the stratification factors' levels),
allocations come in blocks; a block of size ``b`` holds ``b / sum(ratio) * ratio[arm]`` of each
arm in a random order (a random permutation), and block sizes are drawn at random from
``block_sizes`` so the next allocation cannot be guessed at the end of a block
(Schulz and Grimes, Lancet 2002;359:515-519, "Allocation concealment in randomised trials";
ICH E9 section 2.3.2). The generator is NumPy's PCG64 seeded with ``seed``; the SHA-256 of the
whole list is kept so any later change of the stored list is visible.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hcctrial.errors import InputError
from hcctrial.web.audit import PendingEntry, append_entries, canonical_json
from hcctrial.web.db import RandomizationList, RandomizationSlot, Subject, utcnow

__all__ = [
    "Allocation",
    "create_randomization_list",
    "generate_allocations",
    "list_digest",
    "randomize_subject",
    "stratum_key",
]


@dataclass(frozen=True)
class Allocation:
    """One slot of the list: the ``seq``-th allocation of a stratum."""

    stratum: str
    seq: int
    block: int
    block_size: int
    arm: str


def stratum_key(strata: dict[str, list[str]], values: dict[str, str]) -> str:
    """The stratum label of a subject, ``factor=level;...`` in the factors' order (``ALL``)."""
    if not strata:
        return "ALL"
    parts = []
    for factor, levels in strata.items():
        value = values.get(factor)
        if value is None:
            raise InputError("stratification factor missing", column=factor, expected="a level")
        if value not in levels:
            raise InputError(
                "unknown stratum level", column=factor, value=value, expected=", ".join(levels)
            )
        parts.append(f"{factor}={value}")
    return ";".join(parts)


def _default_block_sizes(total: int) -> list[int]:
    # Two block sizes (1x and 2x the ratio total) so that block ends cannot be predicted.
    return [total, 2 * total] if total > 1 else [2, 4]


def generate_allocations(
    ratio: dict[str, int],
    strata: dict[str, list[str]],
    per_stratum: int,
    seed: int,
    block_sizes: list[int] | None = None,
) -> list[Allocation]:
    """The whole allocation list: complete permuted blocks covering ``per_stratum`` per stratum.

    Parameters
    ----------
    ratio : arm id -> allocation ratio part (``{"a": 1, "b": 1}`` is 1:1).
    strata : factor -> its levels; one list per combination of levels (none: one list).
    per_stratum : allocations needed per stratum (the list is completed to whole blocks).
    seed : the generator seed (the same seed gives the same list).
    block_sizes : allowed block sizes, each a multiple of ``sum(ratio)``; default 1x and 2x.
    """
    if len(ratio) < 2 or any(v < 1 for v in ratio.values()):
        raise InputError("randomization needs two or more arms with ratio parts >= 1")
    if per_stratum < 1:
        raise InputError("allocations per stratum must be >= 1", value=per_stratum)
    total = sum(ratio.values())
    sizes = sorted(block_sizes or _default_block_sizes(total))
    bad = [s for s in sizes if s < 1 or s % total]
    if bad:
        raise InputError("block size is not a multiple of the ratio total", value=bad)
    rng = np.random.Generator(np.random.PCG64(seed))
    arms = sorted(ratio)
    levels = [[f"{f}={lv}" for lv in strata[f]] for f in strata]
    keys = [";".join(combo) for combo in itertools.product(*levels)] if strata else ["ALL"]
    out: list[Allocation] = []
    for key in keys:
        seq, block = 0, 0
        while seq < per_stratum:
            size = int(sizes[int(rng.integers(len(sizes)))])
            per_part = size // total
            content = [arm for arm in arms for _ in range(ratio[arm] * per_part)]
            order = rng.permutation(len(content))
            block += 1
            for index in order:
                seq += 1
                out.append(Allocation(key, seq, block, size, content[int(index)]))
    return out


def list_digest(allocations: list[Allocation]) -> str:
    """SHA-256 of the canonical JSON of the list (kept at set-up; shows any later change)."""
    rows = [[a.stratum, a.seq, a.block, a.block_size, a.arm] for a in allocations]
    return hashlib.sha256(canonical_json(rows).encode("utf-8")).hexdigest()


def create_randomization_list(
    session: Session,
    study_id: int,
    ratio: dict[str, int],
    strata: dict[str, list[str]],
    per_stratum: int,
    seed: int,
    block_sizes: list[int] | None = None,
) -> RandomizationList:
    """Generate and store the concealed list of a study (once; a second call is refused)."""
    existing = session.scalar(
        select(RandomizationList).where(RandomizationList.study_id == study_id)
    )
    if existing is not None:
        raise InputError("the study already has a randomization list; it cannot be regenerated")
    allocations = generate_allocations(ratio, strata, per_stratum, seed, block_sizes)
    sizes = sorted({a.block_size for a in allocations})
    rlist = RandomizationList(
        study_id=study_id,
        seed=seed,
        ratio=ratio,
        strata=strata,
        block_sizes=block_sizes or sizes,
        list_sha256=list_digest(allocations),
    )
    session.add(rlist)
    session.flush()
    session.add_all(
        RandomizationSlot(
            list_id=rlist.id,
            stratum=a.stratum,
            seq=a.seq,
            block=a.block,
            block_size=a.block_size,
            arm_code=a.arm,
        )
        for a in allocations
    )
    session.flush()
    return rlist


def randomize_subject(
    session: Session, subject: Subject, strata_values: dict[str, str], user: str
) -> str:
    """Reveal the next free allocation of the subject's stratum; returns the arm id.

    The slot is taken under a row lock (PostgreSQL ``FOR UPDATE``; SQLite's single writer) and
    its optimistic version, so two subjects never get the same slot. The reveal is audited.
    """
    rlist = session.scalar(
        select(RandomizationList).where(RandomizationList.study_id == subject.study_id)
    )
    if rlist is None:
        raise InputError("the study has no randomization list", expected="a randomized study")
    taken = session.scalar(
        select(RandomizationSlot).where(RandomizationSlot.subject_id == subject.id)
    )
    if taken is not None:
        raise InputError("the subject is already randomized", subject=subject.usubjid)
    key = stratum_key(rlist.strata, strata_values)
    slot = session.scalar(
        select(RandomizationSlot)
        .where(
            RandomizationSlot.list_id == rlist.id,
            RandomizationSlot.stratum == key,
            RandomizationSlot.subject_id.is_(None),
        )
        .order_by(RandomizationSlot.seq)
        .limit(1)
        .with_for_update()
    )
    if slot is None:
        raise InputError("the randomization list of this stratum is used up", value=key)
    slot.subject_id = subject.id
    slot.revealed_at = utcnow()
    slot.revealed_by = user
    session.flush()
    append_entries(
        session.connection(),
        user,
        session.info.get("reason"),
        [
            PendingEntry(
                "reveal",
                "randomization_slots",
                str(slot.id),
                {
                    "arm_code": [None, slot.arm_code],
                    "stratum": [None, key],
                    "seq": [None, slot.seq],
                    "usubjid": [None, subject.usubjid],
                },
            )
        ],
    )
    return slot.arm_code
