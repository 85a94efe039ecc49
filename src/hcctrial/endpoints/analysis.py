"""One call from ADSL + ADRS to every efficacy table: ADTTE, per-arm endpoints, comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from hcctrial.endpoints.adtte import (
    EndpointOptions,
    assessments_until,
    derive_adtte,
    prepare_adsl,
    to_polars,
)
from hcctrial.endpoints.summary import (
    AnalysisOptions,
    at_risk_table,
    compare_arms,
    response_rates,
    stratum_labels,
    summarise_time_to_event,
)

__all__ = ["EndpointsResult", "analyse_endpoints"]

PARAM_ORDER = {"OS": 0, "PFS": 1, "TTR": 2, "DOR": 3, "RESPONSE": 4}


@dataclass(frozen=True)
class EndpointsResult:
    """Every efficacy table of a study; ``tables()`` names them for export."""

    adtte: pl.DataFrame
    by_arm: pl.DataFrame
    comparison: pl.DataFrame
    at_risk: pl.DataFrame
    endpoint_options: EndpointOptions
    analysis_options: AnalysisOptions
    data_cutoff: date | None = None

    def tables(self) -> dict[str, pl.DataFrame]:
        """Tables keyed by their export name."""
        return {
            "adtte": self.adtte,
            "endpoints_by_arm": self.by_arm,
            "endpoints_comparison": self.comparison,
            "numbers_at_risk": self.at_risk,
        }

    def conventions(self) -> dict[str, Any]:
        """The statistical conventions used, for the JSON export and the report."""
        a, e = self.analysis_options, self.endpoint_options
        return {
            "ci_transform": a.conf_type,
            "conf_level": a.conf_level,
            "cox_ties": a.ties,
            "median_ci": "Brookmeyer-Crowley as R survival quantile.survfit (midpoint rule)",
            "rate_ci": "Clopper-Pearson exact",
            "difference_ci": "Newcombe hybrid score (method 10)",
            "time_unit": "AVAL in days; medians and landmarks in months of 365.25/12 days",
            "origin": e.origin,
            "aval": "ADT - STARTDT + 1" if e.add_one else "ADT - STARTDT",
            "censoring": {
                "new_therapy_censors": e.new_therapy_censors,
                "missed_assessments_censor": e.missed_assessments_censor,
                "max_gap_days": e.max_gap_days,
                "no_baseline_censors_at_origin": e.no_baseline_censors_at_origin,
                "no_assessment_censors_at_origin": e.no_assessment_censors_at_origin,
                "no_post_baseline_censors_at_origin": e.no_post_baseline_censors_at_origin,
                "os_censored_at": "last known alive"
                if e.os_at_last_known_alive
                else "last adequate assessment",
                "pfs_censored_at": "last known alive"
                if e.pfs_at_last_known_alive
                else "last adequate assessment",
                "data_cutoff": None if self.data_cutoff is None else self.data_cutoff.isoformat(),
                "data_cutoff_rule": (
                    "given date"
                    if e.data_cutoff is not None
                    else f"last origin + {e.data_cutoff_months:g} months"
                    if e.data_cutoff_months is not None
                    else "none"
                ),
            },
            "logrank_strata": list(a.strata),
            "ci_transform_of_every_median_and_rate": "stated in each row's METHOD",
            "response_param": e.response_param,
        }


def _order(df: pl.DataFrame) -> pl.DataFrame:
    if df.is_empty():
        return df
    key = pl.col("PARAMCD").replace_strict(PARAM_ORDER, default=9, return_dtype=pl.Int64)
    return df.with_row_index("_I").sort(key, "ARM", "_I").drop("_I")


def analyse_endpoints(
    adsl: pl.DataFrame | Any,
    adrs: pl.DataFrame | Any | None = None,
    endpoint_options: EndpointOptions | None = None,
    analysis_options: AnalysisOptions | None = None,
    new_therapy: pl.DataFrame | None = None,
) -> EndpointsResult:
    """Derive ADTTE and compute every endpoint per arm and between two arms.

    See :func:`~hcctrial.endpoints.adtte.derive_adtte` (censoring rules) and
    :mod:`hcctrial.endpoints.summary` (statistics and table layout). With a data cut-off,
    timepoint responses after it are not used; BOR/CBOR rows of ``adrs`` are taken as given
    (derive them from :func:`~hcctrial.endpoints.adtte.assessments_until` first, as the
    ``hcctrial endpoints`` command does).
    """
    e_opts = endpoint_options or EndpointOptions()
    a_opts = analysis_options or AnalysisOptions()
    adsl = to_polars(adsl, "ADSL")
    adtte = derive_adtte(adsl, adrs, e_opts, new_therapy)
    cutoff = e_opts.cutoff_date(prepare_adsl(adsl, e_opts)["ORIGINDT"])
    by_arm = summarise_time_to_event(adtte, a_opts)
    strata = stratum_labels(adsl, a_opts.strata) if a_opts.strata else None
    comparison = compare_arms(adtte, a_opts, strata)
    if adrs is not None:
        # DCR at months uses the timepoints up to the cut-off; BOR/CBOR rows are as given
        on_time = assessments_until(to_polars(adrs, "ADRS"), cutoff)
        rates, diffs = response_rates(on_time, adsl, e_opts, a_opts)
        by_arm = pl.concat([by_arm, rates])
        comparison = pl.concat([comparison, diffs])
    return EndpointsResult(
        adtte=adtte,
        by_arm=_order(by_arm),
        comparison=_order(comparison),
        at_risk=_order(at_risk_table(adtte, a_opts.at_risk_months)),
        endpoint_options=e_opts,
        analysis_options=a_opts,
        data_cutoff=cutoff,
    )
