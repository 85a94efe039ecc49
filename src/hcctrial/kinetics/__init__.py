"""Cellular kinetics and biomarkers: Cmax, Tmax, AUC0-28d, Tlast, persistence, change from
baseline, from LB-shaped data (transgene copies/ug gDNA, CAR+ cells/uL, iNKT counts, serum
IL1RAP).

API
---
``first_infusion_dates(ex) -> USUBJID, TRTSDT``
    The first EX record of a cell product per subject (the time origin).
``prepare_samples(lb, reference, *, tests=None) -> Samples(table, problems)``
    ``table``: ``USUBJID, PARAMCD, ADY`` (days from first infusion), ``AVAL`` (BLQ -> 0),
    ``BLQFL``, ``AVALU``, ``LBROW``; ``problems``: LB rows not used, with the reason.
``nca(samples, *, auc_end_days=28) -> pl.DataFrame``
    One row per subject and test (:data:`NCA_COLUMNS`), linear-up/log-down as PKNCA.
``change_from_baseline(samples, timepoints_days, *, window_days=3) -> pl.DataFrame``
    ADaM BDS-like ``AVISIT, AVAL, BASE, CHG, PCHG`` at protocol timepoints.
``summarise(nca_table) -> pl.DataFrame``
    Per test: n, geometric mean (CV%) and median (range) of Cmax and AUC0-28d, median Tmax.
"""

from __future__ import annotations

from hcctrial.kinetics.change import DEFAULT_TIMEPOINTS_DAYS, change_from_baseline
from hcctrial.kinetics.nca import NCA_COLUMNS, nca
from hcctrial.kinetics.samples import KINETIC_TESTS, Samples, first_infusion_dates, prepare_samples
from hcctrial.kinetics.summary import summarise

__all__ = [
    "DEFAULT_TIMEPOINTS_DAYS",
    "KINETIC_TESTS",
    "NCA_COLUMNS",
    "Samples",
    "change_from_baseline",
    "first_infusion_dates",
    "nca",
    "prepare_samples",
    "summarise",
]
