"""A calendar as iCalendar text (RFC 5545) that a coordinator can import into any calendar app.

Each planned event is an all-day ``VEVENT`` (``DTSTART;VALUE=DATE`` and an exclusive
``DTEND;VALUE=DATE`` the next day, RFC 5545 section 3.6.1), with a stable ``UID`` (protocol,
subject, event, occurrence), a ``DTSTAMP`` in UTC, the visit window and the dose in
``DESCRIPTION`` and the kind in ``CATEGORIES``. Text values are escaped (section 3.3.11:
backslash, semicolon, comma, newline); lines end with CRLF and are folded at 75 octets with a
CRLF and one space, never inside a UTF-8 character (section 3.1).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hcctrial.errors import InputError

__all__ = ["escape_text", "fold_line", "to_ics"]

_LIMIT = 75  # octets per line, excluding the CRLF (RFC 5545 section 3.1)


def escape_text(text: str) -> str:
    """Escape a TEXT value (RFC 5545 section 3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold_line(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets joined by CRLF + space."""
    chunks: list[str] = []
    current, size = "", 0
    limit = _LIMIT
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            chunks.append(current)
            current, size = "", 0
            limit = _LIMIT - 1  # continuation lines start with one space
        current += char
        size += width
    chunks.append(current)
    return "\r\n ".join(chunks)


def _date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _description(row: dict[str, object]) -> str:
    parts = [f"{row['VISIT']} (day {row['DAY']})"]
    lo, hi = row["WINLODT"], row["WINHIDT"]
    if lo != hi:
        parts.append(f"window {lo} to {hi}")
    if row.get("DURMIN") is not None:
        span = f"{row['DURMIN']}" + (
            f"-{row['DURMAX']}" if row.get("DURMAX") != row.get("DURMIN") else ""
        )
        parts.append(f"course of {span} days, last day {row['ENDLODT']} to {row['ENDHIDT']}")
    if row.get("DOSECALC"):
        parts.append(f"dose: {row['DOSECALC']}")
    return "\n".join(parts)


def to_ics(
    calendar: pl.DataFrame,
    *,
    protocol_id: str,
    name: str | None = None,
    dtstamp: dt.datetime | None = None,
) -> str:
    """The calendar as an RFC 5545 ``VCALENDAR`` (text with CRLF line endings).

    Parameters
    ----------
    calendar : from :func:`hcctrial.schedule.build_calendar`.
    protocol_id : goes into each ``UID`` and the calendar name.
    name : ``X-WR-CALNAME`` (default ``"<protocol> calendar"``).
    dtstamp : when the file was made (UTC; default now). Fix it for reproducible files.
    """
    needed = {"VISIT", "DAY", "EVENT", "EVENTID", "OCCURRENCE", "KIND", "PLANDT", "WINLODT"}
    missing = sorted(needed - set(calendar.columns))
    if missing:
        raise InputError("the calendar lacks columns", value=missing, expected="a calendar")
    stamp = (dtstamp or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//hcctrial//schedule//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + escape_text(name or f"{protocol_id} calendar"),
    ]
    for row in calendar.iter_rows(named=True):
        subject = row.get("USUBJID") or "subject"
        uid = f"{protocol_id}-{subject}-{row['EVENTID']}-{row['OCCURRENCE']}@hcctrial"
        start: dt.date = row["PLANDT"]
        summary = f"{row['EVENT']} ({row['VISIT']})"
        if row.get("USUBJID"):
            summary = f"{row['USUBJID']}: {summary}"
        lines += [
            "BEGIN:VEVENT",
            "UID:" + escape_text(uid.replace(" ", "_")),
            "DTSTAMP:" + stamp,
            "DTSTART;VALUE=DATE:" + _date(start),
            "DTEND;VALUE=DATE:" + _date(start + dt.timedelta(days=1)),
            "SUMMARY:" + escape_text(summary),
            "DESCRIPTION:" + escape_text(_description(row)),
            "CATEGORIES:" + escape_text(str(row["KIND"])),
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold_line(line) + "\r\n" for line in lines)
