"""The protocol's choices for the efficacy analysis, read from a :class:`Protocol` once.

Each setting is taken from the protocol file where it says so, else the documented default:

===========================  ====================================================================
setting                      from the protocol
===========================  ====================================================================
origin of time               ``origin`` of the PFS (else OS, else any time-to-event) endpoint
response criteria            ``response`` of the primary (else first) endpoint that has one
BOR or confirmed BOR         ``CBOR`` when that ``response.confirmation_required``, else ``BOR``
confirmation / SD days       ``response.confirmation_days`` / ``response.sd_min_days``
censoring (PFS, TTR, DOR)    ``censoring`` of the PFS endpoint (FDA 2018 guidance defaults):
                             ``missed_assessments``, ``new_anticancer_therapy``,
                             ``no_baseline_at_origin``, ``no_post_baseline_at_origin``,
                             ``at_last_known_alive``
censoring (OS)               ``censoring`` of the OS endpoint: last known alive unless it sets
                             ``at_last_known_alive: false`` with ``at_last_adequate_assessment``
                             (then the last adequate tumour assessment); none: last known alive
data cut-off                 ``data_cutoff_months`` of any time-to-event endpoint (all equal):
                             the last subject's origin + that many months
imaging interval and window  the ``repeat`` of the first repeating ``tumour-assessment`` event
                             (weeks -> days), else the gap of its first two weeks; its window
landmark months              ``timepoints_months`` of the OS / PFS / rate endpoints, else OS 6, 12,
                             24 and PFS 3, 6, 12, 24 months (the seed trials' questions)
DCR months                   ``timepoints_months`` of the DCR endpoint, else 3, 6, 12, 24
DCR landmark visits          the scheduled tumour assessments (day, window) of the first arm,
                             counted from each subject's day 0 of the visit plan
                             (``schedule.anchor``: first TACE for NCT04011033), not from the
                             origin of time when the two differ
control arm                  the first arm whose type is not ``experimental``
log-rank strata              ``design.randomization.strata`` (ADSL/DM column names); the
                             CLI's ``--strata`` replaces them
===========================  ====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from hcctrial.endpoints.adtte import EndpointOptions
from hcctrial.endpoints.summary import DAYS_PER_MONTH, AnalysisOptions
from hcctrial.errors import InputError
from hcctrial.protocol import Protocol
from hcctrial.protocol.outcomes import Endpoint

__all__ = ["ORIGINS", "EfficacySettings", "efficacy_settings", "with_origin_date"]

ORIGINS = {
    "first-infusion": "first infusion",
    "randomization": "randomization",
    "first-tace": "first TACE",
    "enrolment": "enrolment",
    "pbmc-collection": "PBMC collection",
    "first-response": "first response",
}

_TTE = ("pfs", "median-pfs", "os", "median-os", "ttr", "dor")


@dataclass(frozen=True)
class EfficacySettings:
    """Everything the efficacy analysis takes from one protocol.

    ``origin`` is the protocol's name of day 1 (``first-infusion``, ``randomization``,
    ``first-tace``, ``enrolment``); ``criteria`` ``recist1.1`` or ``mrecist``;
    ``schedule_anchor`` the event of day 0 of the visit plan (``schedule.anchor.event``), from
    which the scheduled tumour assessments of the DCR landmarks are counted.
    """

    protocol_id: str
    origin: str
    criteria: str
    confirm_days: int
    sd_min_days: int
    endpoint_options: EndpointOptions
    analysis_options: AnalysisOptions
    control_arm: str | None
    arm_labels: tuple[str, ...]
    schedule_anchor: str = "first-infusion"


def _first(endpoints: list[Endpoint], kinds: tuple[str, ...]) -> Endpoint | None:
    ranked = sorted(endpoints, key=lambda e: (e.role != "primary",))
    for kind in kinds:
        for e in ranked:
            if e.kind == kind:
                return e
    return None


def _imaging(protocol: Protocol) -> tuple[int | None, int | None]:
    """Imaging interval (days) and window (days) of the repeating tumour-assessment event."""
    for event in protocol.schedule.events:
        if event.what != "tumour-assessment":
            continue
        window = max(event.window_before_days, event.window_after_days)
        rep = event.repeat
        if rep is not None:
            if rep.every_days:
                return rep.every_days, window
            if rep.every_weeks:
                return 7 * rep.every_weeks, window
            if rep.every_months:
                return round(rep.every_months * DAYS_PER_MONTH), window
        if len(event.weeks) >= 2:
            return round(7 * (event.weeks[1] - event.weeks[0])), window
    return None, None


def _assessment_schedule(
    protocol: Protocol, months: tuple[float, ...]
) -> tuple[tuple[int, int], ...]:
    """Scheduled tumour assessments after day 0 as ``(day, window before)`` in the first arm.

    Built by the schedule engine (:func:`hcctrial.schedule.template.arm_template`, one place for
    repeats, weeks and months) up to the last landmark plus a year; a protocol whose calendar
    cannot be built gives none, and the landmark rule
    falls back to whole months (:func:`~hcctrial.endpoints.summary.landmark_assessment_day`).
    """
    from hcctrial.schedule.template import arm_template

    if not protocol.arms:
        return ()
    horizon = round((max(months, default=24.0)) * DAYS_PER_MONTH) + 366
    # the imaging plan does not depend on the dose level: the first one lets the calendar build
    level = protocol.dose_levels[0].id if protocol.dose_levels else None
    try:
        rows = arm_template(protocol, protocol.arms[0].id, horizon, dose_level=level)
    except InputError:
        return ()
    return tuple(
        sorted(
            {
                (r.offset, r.window_before)
                for r in rows
                if r.what == "tumour-assessment" and r.offset > 0
            }
        )
    )


def efficacy_settings(protocol: Protocol) -> EfficacySettings:
    """Read the efficacy analysis settings of ``protocol`` (see the module table)."""
    eps = list(protocol.endpoints)
    tte = _first(eps, ("pfs", "median-pfs", "os", "median-os", *_TTE))
    origin = (tte.origin if tte is not None else None) or (
        "randomization" if protocol.design.allocation == "randomized" else "first-infusion"
    )
    with_response = sorted(
        (e for e in eps if e.response is not None), key=lambda e: (e.role != "primary",)
    )
    resp = with_response[0].response if with_response else None
    criteria = resp.criteria if resp is not None else "recist1.1"
    confirm = resp.confirmation_required if resp is not None else True
    e_opts = EndpointOptions(origin="ORIGINDT", response_param="CBOR" if confirm else "BOR")
    pfs = _first(eps, ("pfs", "median-pfs"))
    if pfs is not None and pfs.censoring is not None:
        c = pfs.censoring
        e_opts = replace(
            e_opts,
            new_therapy_censors=c.new_anticancer_therapy,
            missed_assessments_censor=c.missed_assessments is not None,
            allowed_missed=(c.missed_assessments or 2) - 1,
            no_baseline_censors_at_origin=c.no_baseline_at_origin,
            no_post_baseline_censors_at_origin=c.no_post_baseline_at_origin,
            pfs_at_last_known_alive=c.at_last_known_alive,
        )
    os_ep = _first(eps, ("os", "median-os"))
    if os_ep is not None and os_ep.censoring is not None:
        c = os_ep.censoring
        # last known alive unless the file asks for the last adequate assessment instead
        e_opts = replace(
            e_opts,
            os_at_last_known_alive=c.at_last_known_alive or not c.at_last_adequate_assessment,
        )
    cutoffs = {
        e.id: e.censoring.data_cutoff_months
        for e in eps
        if e.kind in _TTE and e.censoring is not None and e.censoring.data_cutoff_months
    }
    if len(set(cutoffs.values())) > 1:
        raise InputError(
            "endpoints give different data cut-offs; one analysis has one cut-off",
            column="endpoints[].censoring.data_cutoff_months",
            value=cutoffs,
            expected="the same data_cutoff_months on every time-to-event endpoint",
        )
    if cutoffs:
        e_opts = replace(e_opts, data_cutoff_months=next(iter(cutoffs.values())))
    interval, window = _imaging(protocol)
    if interval is not None:
        e_opts = replace(e_opts, assessment_interval_days=interval)
    if window is not None:
        e_opts = replace(e_opts, assessment_window_days=window)
    landmarks = dict(AnalysisOptions().landmarks_months)
    for kind, param in (("os", "OS"), ("median-os", "OS"), ("pfs", "PFS"), ("median-pfs", "PFS")):
        e = _first(eps, (kind,))
        if e is not None and e.timepoints_months:
            landmarks[param] = tuple(sorted(set(e.timepoints_months)))
    for e in eps:
        if e.kind == "rate" and e.timepoints_months and e.event:
            param = "OS" if e.event == ["death"] else "PFS"
            landmarks[param] = tuple(sorted({*landmarks[param], *e.timepoints_months}))
    dcr = _first(eps, ("dcr",))
    dcr_months = (
        tuple(sorted(set(dcr.timepoints_months)))
        if dcr is not None and dcr.timepoints_months
        else AnalysisOptions().dcr_months
    )
    controls = [a.label for a in protocol.arms if a.type != "experimental"]
    control = controls[0] if controls and len(protocol.arms) == 2 else None
    rand = protocol.design.randomization
    a_opts = AnalysisOptions(
        landmarks_months=landmarks,
        dcr_months=dcr_months,
        control_arm=control,
        strata=tuple(rand.strata) if rand is not None else (),
        assessment_schedule=_assessment_schedule(protocol, dcr_months),
    )
    return EfficacySettings(
        protocol_id=protocol.id,
        origin=origin,
        criteria=criteria,
        confirm_days=resp.confirmation_days if resp is not None else 28,
        sd_min_days=resp.sd_min_days if resp is not None else 42,
        endpoint_options=e_opts,
        analysis_options=a_opts,
        control_arm=control,
        arm_labels=tuple(a.label for a in protocol.arms),
        schedule_anchor=protocol.schedule.anchor.event,
    )


#: ADSL columns that date an origin directly
ADSL_ORIGIN = {"first-infusion": "TRTSDT", "randomization": "RANDDT"}


def _event_date(adsl: pl.DataFrame, event: str, study: Any, name: str) -> pl.DataFrame:
    """ADSL with column ``name`` dating ``event`` for every subject: ADSL ``TRTSDT`` (first
    infusion) or ``RANDDT`` (randomization) where ADSL has it, else from SDTM DM/EX/DS by
    :func:`hcctrial.response.reference.derive_reference_start` (first TACE, enrolment)."""
    from hcctrial.response.reference import derive_reference_start

    column = ADSL_ORIGIN.get(event)
    if column is not None and column in adsl.columns:
        return adsl.with_columns(pl.col(column).alias(name))
    if event not in ("first-tace", "enrolment"):
        raise InputError(
            f"{event!r} cannot be dated from SDTM data",
            value=event,
            expected="first-infusion, randomization, first-tace or enrolment",
        )
    ref = derive_reference_start(event, study.get("DM"), study.get("EX"), study.get("DS"))
    assert ref is not None  # only baseline-scan gives None
    return adsl.join(ref.rename({"REFDT": name}), on="USUBJID", how="left")


def with_origin_date(
    adsl: pl.DataFrame, origin: str, study: Any, anchor: str | None = None
) -> pl.DataFrame:
    """ADSL with ``ORIGINDT``, the protocol's day 1 of every subject (see :func:`_event_date`),
    and, with ``anchor`` (the visit plan's day 0 event, :attr:`EfficacySettings.schedule_anchor`),
    ``ANCHORDT``: the date the scheduled tumour assessments count from, for the DCR landmarks.
    ``ANCHORDT`` is the origin where the anchor is the origin, where the data cannot date it
    (no EX for a first TACE, a PBMC-collection anchor) and for a subject without that date (a
    subject randomized but never treated). The ``hcctrial endpoints`` command and the report
    both date the origin here."""
    adsl = _event_date(adsl, origin, study, "ORIGINDT")
    if anchor is None or anchor == origin:
        return adsl.with_columns(pl.col("ORIGINDT").alias("ANCHORDT")) if anchor else adsl
    try:
        adsl = _event_date(adsl, anchor, study, "ANCHORDT")
    except InputError:
        return adsl.with_columns(pl.col("ORIGINDT").alias("ANCHORDT"))
    return adsl.with_columns(pl.coalesce("ANCHORDT", "ORIGINDT").alias("ANCHORDT"))
