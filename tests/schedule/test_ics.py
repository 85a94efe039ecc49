"""RFC 5545 output: parsed back by a small independent reader (unfold, split, unescape).

Checks: CRLF line endings, no line over 75 octets (section 3.1), BEGIN/END nesting, the
required VEVENT properties UID and DTSTAMP (section 3.6.1), all-day DTSTART;VALUE=DATE with an
exclusive DTEND the next day, and TEXT escaping (section 3.3.11).
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from hcctrial.protocol import Protocol
from hcctrial.schedule import build_calendar, to_ics
from hcctrial.schedule.ics import escape_text, fold_line

STAMP = dt.datetime(2026, 11, 22, 21, 0, tzinfo=dt.UTC)


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def parse_ics(text: str) -> list[dict[str, str]]:
    """Events as {property (with parameters): value}; asserts the RFC 5545 framing."""
    assert text.endswith("\r\n")
    raw = text.split("\r\n")[:-1]
    assert all("\n" not in line and "\r" not in line for line in raw)
    assert all(len(line.encode("utf-8")) <= 75 for line in raw)
    lines: list[str] = []
    for line in raw:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines[1:-1]:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            assert current is None
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            events.append(current)
            current = None
        elif current is not None:
            current[name] = _unescape(value)
    assert current is None
    return events


def test_calendar_round_trip(inkt: Protocol) -> None:
    cal = build_calendar(inkt, "inkt-tace", "2026-01-05", 170, 70, usubjid="HCC-001")
    events = parse_ics(to_ics(cal, protocol_id=inkt.id, dtstamp=STAMP))
    assert len(events) == cal.height
    uids = [e["UID"] for e in events]
    assert len(set(uids)) == len(uids)
    first = events[0]
    assert first["DTSTAMP"] == "20261122T210000Z"
    assert first["DTSTART;VALUE=DATE"] == "20260105"
    assert first["DTEND;VALUE=DATE"] == "20260106"
    assert first["SUMMARY"] == "HCC-001: TACE (Day 0)"
    for event, row in zip(events, cal.iter_rows(named=True), strict=True):
        assert event["DTSTART;VALUE=DATE"] == row["PLANDT"].strftime("%Y%m%d")
        assert event["CATEGORIES"] == row["KIND"]
    il2 = next(e for e in events if e["UID"] == "inkt-fixture-HCC-001-il2-1@hcctrial")
    assert il2["DTSTART;VALUE=DATE"] == "20260113"
    assert "dose: 25,000 IU/kg/day x weight 70 kg = 1,750,000 IU/day" in il2["DESCRIPTION"]
    assert "course of 5-14 days, last day 2026-01-17 to 2026-01-26" in il2["DESCRIPTION"]


def test_escaping_and_folding() -> None:
    assert escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    line = "DESCRIPTION:" + "é" * 80  # 2-octet characters must not be split
    folded = fold_line(line)
    parts = folded.split("\r\n ")
    assert "".join(parts) == line
    assert all(len(p.encode("utf-8")) <= 74 for p in parts[1:])
    assert len(parts[0].encode("utf-8")) <= 75


@given(st.text(min_size=0, max_size=300))
def test_fold_then_unfold_is_identity(text: str) -> None:
    line = "SUMMARY:" + escape_text(text.replace("\r", ""))
    folded = fold_line(line)
    assert folded.replace("\r\n ", "") == line
    assert all(len(p.encode("utf-8")) <= 75 for p in folded.split("\r\n"))


def test_empty_columns_are_refused() -> None:
    import pytest

    from hcctrial.errors import InputError

    with pytest.raises(InputError, match="lacks columns"):
        to_ics(pl.DataFrame({"VISIT": ["x"]}), protocol_id="p")
