"""Safety sections of the report, computed by the safety engine (``hcctrial.safety``).

- Adverse events: treatment-emergent by the protocol's AE window
  (:func:`~hcctrial.safety.derive_treatment_emergent`), subjects by term and worst CTCAE grade
  (:func:`~hcctrial.safety.ae_incidence`) over the safety population (``SAFFL = Y``).
- CRS and ICANS: subjects by worst ASTCT 2019 grade (Lee DW et al., Biol Blood Marrow
  Transplant 2019;25:625) from the AE records of those terms, onset after the first infusion
  and duration.
- Laboratory toxicity: CTCAE grades (:func:`~hcctrial.safety.grade_labs`) and shift tables
  from the baseline grade to the worst post-baseline grade
  (:func:`~hcctrial.safety.lab_shift_table`).
- DLTs (:func:`hcctrial.safety.dlt.evaluate_dlt`) per dose level with exact CIs, and the
  escalation path replayed cohort by cohort through the protocol's 3+3 or BOIN rule
  (:mod:`hcctrial.safety.three_plus_three`, :mod:`hcctrial.safety.boin`).
"""

from __future__ import annotations

import polars as pl

from hcctrial.endpoints.rates import clopper_pearson
from hcctrial.errors import InputError
from hcctrial.io import StudyData
from hcctrial.protocol import Protocol
from hcctrial.report.document import Section, guarded
from hcctrial.report.figures import escalation_path_figure
from hcctrial.safety import (
    ae_incidence,
    derive_ae_window,
    derive_lab_baseline_flag,
    derive_subject_anchors,
    derive_treatment_emergent,
    grade_labs,
    lab_shift_table,
)
from hcctrial.safety.dlt import CRS_TERM, ICANS_TERM, evaluate_dlt

__all__ = ["dose_levels_of", "escalation_path", "safety_sections"]


def _pct(n: int, total: int) -> str:
    return f"{n} ({100.0 * n / total:.1f}%)" if total else "0"


def _safety_population(adsl: pl.DataFrame) -> pl.DataFrame:
    subjects = adsl.filter(pl.col("SAFFL") == "Y")
    if subjects.is_empty():
        raise InputError(
            "no subject in the safety population (SAFFL = Y: enrolled and given any study "
            "treatment)",
            expected="EX records or DM.RFXSTDTC for treated subjects",
        )
    return subjects


def treatment_emergent_ae(protocol: Protocol, data: StudyData) -> pl.DataFrame:
    """AE with ``TRTEMFL`` by the protocol's AE window (raises without AE or DM)."""
    for domain in ("DM", "AE"):
        if domain not in data:
            raise InputError(f"no {domain} domain", expected=f"{domain.lower()}.csv")
    anchors = derive_subject_anchors(
        data["DM"], ds=data.get("DS"), ex=data.get("EX"), pr=data.get("PR")
    )
    windows = derive_ae_window(anchors, protocol.safety.ae_window)
    return derive_treatment_emergent(data["AE"], windows).ae


def _arms(subjects: pl.DataFrame) -> list[tuple[str, int]]:
    counts = subjects.group_by("ARM").agg(pl.len()).sort("ARM")
    return [(str(a), int(n)) for a, n in counts.iter_rows()]


def ae_section(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> Section:
    """Overview, subjects by term and worst grade, serious AEs."""
    subjects = _safety_population(adsl).select("USUBJID", "ARM")
    ae = treatment_emergent_ae(protocol, data)
    arms = _arms(subjects)
    section = Section("ae", "Adverse events")
    window = protocol.safety.ae_window
    section.add_text(
        f"Treatment-emergent adverse events (TEAE) of the safety population (N = "
        f"{subjects.height}), CTCAE v{protocol.safety.ctcae_version}; AE window "
        + (
            f"from {window.start.replace('-', ' ')} to {window.end_days_after} days after "
            f"{window.end_after.replace('-', ' ')}"
            if window is not None
            else "from first infusion, no end (the protocol gives none)"
        )
        + ". A subject counts once per row, under the worst grade."
    )
    inc = ae_incidence(ae, subjects)
    rel = ae_incidence(ae, subjects, related_only=True)
    ser = ae_incidence(ae, subjects, serious_only=True)

    def any_row(table: pl.DataFrame, arm: str, col: str) -> int:
        row = table.filter((pl.col("LEVEL") == "ANY") & (pl.col("ARM") == arm))
        return int(row[col].item()) if row.height else 0

    overview = []
    for label, table, col in (
        ("Any TEAE", inc, "n"),
        ("TEAE of grade 3 or higher", inc, "GR3PL"),
        ("TEAE of grade 5 (fatal)", inc, "GR5"),
        ("Serious TEAE", ser, "n"),
        ("Treatment-related TEAE", rel, "n"),
        ("Treatment-related TEAE of grade 3 or higher", rel, "GR3PL"),
    ):
        row = {"Subjects with": label}
        for arm, n in arms:
            row[f"{arm} (N={n})"] = _pct(any_row(table, arm, col), n)
        overview.append(row)
    section.add_table(pl.DataFrame(overview), "Overview of treatment-emergent adverse events")
    terms = inc.filter(pl.col("LEVEL") == "TERM")
    if terms.is_empty():
        section.add_text("No treatment-emergent adverse event was recorded.")
        return section
    order = terms.group_by("AEDECOD").agg(pl.col("n").sum().alias("_T")).sort("_T", descending=True)
    wide = []
    for (term,) in order.select("AEDECOD").iter_rows():
        row = {"Preferred term": str(term)}
        for arm, n in arms:
            hit = terms.filter((pl.col("AEDECOD") == term) & (pl.col("ARM") == arm))
            k = int(hit["n"].item()) if hit.height else 0
            g3 = int(hit["GR3PL"].item()) if hit.height else 0
            row[f"{arm}: any grade"] = _pct(k, n)
            row[f"{arm}: grade >= 3"] = _pct(g3, n)
        wide.append(row)
    section.add_table(pl.DataFrame(wide), "Subjects with TEAE by preferred term (n, % of N)")
    by_grade = terms.select(
        pl.col("ARM").alias("Arm"),
        pl.col("AEBODSYS").alias("System organ class"),
        pl.col("AEDECOD").alias("Preferred term"),
        "N",
        pl.col("n").alias("Any"),
        *[pl.col(f"GR{g}").alias(f"Grade {g}") for g in range(1, 6)],
        pl.col("GRUNK").alias("Unknown"),
    ).sort("Arm", "Any", descending=[False, True])
    section.add_table(by_grade, "Subjects by worst CTCAE grade, per preferred term")
    serious = ae.filter(
        (pl.col("TRTEMFL") == "Y")
        & (pl.col("AESER").cast(pl.String).str.to_uppercase() == "Y")
        & pl.col("USUBJID").is_in(subjects["USUBJID"].to_list())
    )
    if serious.height:
        per_term = (
            serious.join(subjects, on="USUBJID")
            .group_by("ARM", "AEDECOD")
            .agg(
                pl.col("USUBJID").n_unique().alias("Subjects"),
                pl.len().alias("Events"),
                pl.col("AETOXGR").max().alias("Worst grade"),
            )
            .sort("ARM", "Subjects", descending=[False, True])
            .rename({"ARM": "Arm", "AEDECOD": "Preferred term"})
        )
        section.add_table(per_term, f"Serious TEAE ({serious.height} events)")
    return section


def crs_icans_section(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> Section:
    """Subjects with CRS and ICANS by worst grade, onset day and duration (from AE)."""
    subjects = _safety_population(adsl).select("USUBJID", "ARM", "TRTSDT")
    ae = treatment_emergent_ae(protocol, data).filter(pl.col("TRTEMFL") == "Y")
    section = Section("crs", "Cytokine release syndrome and ICANS")
    section.add_text(
        "Graded by ASTCT 2019 consensus (Lee et al., Biol Blood Marrow Transplant "
        "2019;25:625) as recorded in AETOXGR of the AE terms 'Cytokine release syndrome' and "
        "'Immune effector cell-associated neurotoxicity syndrome'; onset in days from the first "
        "infusion (day 0); duration from onset to resolution, both days included."
    )
    arms = _arms(subjects)
    rows = []
    for label, term in (("CRS", CRS_TERM), ("ICANS", ICANS_TERM)):
        events = (
            ae.filter(pl.col("AEDECOD").str.to_uppercase() == term)
            .join(subjects, on="USUBJID")
            .with_columns(
                (pl.col("AESTDT") - pl.col("TRTSDT")).dt.total_days().alias("ONSET"),
                ((pl.col("AEENDT") - pl.col("AESTDT")).dt.total_days() + 1).alias("DUR"),
            )
        )
        worst = events.group_by("USUBJID", "ARM").agg(
            pl.col("AETOXGR").max().alias("W"),
            pl.col("ONSET").min().alias("ONSET"),
            pl.col("DUR").max().alias("DUR"),
        )
        for stat in ("Any grade", "Grade 1", "Grade 2", "Grade 3", "Grade 4", "Grade 5"):
            row = {"Syndrome": label, "Subjects with": stat}
            for arm, n in arms:
                w = worst.filter(pl.col("ARM") == arm)
                k = w.height if stat == "Any grade" else int((w["W"] == int(stat[-1])).sum())
                row[f"{arm} (N={n})"] = _pct(k, n)
            rows.append(row)
        for stat, col in (
            ("Onset day, median (range)", "ONSET"),
            ("Duration in days, median (range)", "DUR"),
        ):
            row = {"Syndrome": label, "Subjects with": stat}
            for arm, n in arms:
                x = worst.filter(pl.col("ARM") == arm)[col].drop_nulls().cast(pl.Float64)
                row[f"{arm} (N={n})"] = (
                    f"{float(x.median() or 0):g} ({float(x.min() or 0):g}-"  # type: ignore[arg-type]
                    f"{float(x.max() or 0):g})"  # type: ignore[arg-type]
                    if x.len()
                    else "-"
                )
            rows.append(row)
    section.add_table(pl.DataFrame(rows), "Subjects by worst grade")
    return section


def lab_section(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> Section:
    """Worst post-baseline CTCAE grade per lab term, and baseline-to-worst shift tables."""
    if "LB" not in data:
        raise InputError("no LB domain: lab toxicity needs laboratory results", expected="lb.csv")
    subjects = _safety_population(adsl).select("USUBJID", "ARM")
    anchors = derive_subject_anchors(
        data["DM"], ds=data.get("DS"), ex=data.get("EX"), pr=data.get("PR")
    )
    lb = data["LB"].filter(pl.col("USUBJID").is_in(subjects["USUBJID"].to_list()))
    graded = grade_labs(derive_lab_baseline_flag(lb, anchors), protocol.safety.ctcae_version)
    graded = graded.filter(pl.col("ATOXDSCL").is_not_null() | pl.col("ATOXDSCH").is_not_null())
    if graded.is_empty():
        raise InputError("no laboratory test with CTCAE criteria in LB", expected="e.g. PLT, ALT")
    shifts = lab_shift_table(graded, subjects)
    section = Section("labs", "Laboratory toxicity (CTCAE shift tables)")
    section.add_text(
        f"Lab results graded by CTCAE v{protocol.safety.ctcae_version} (the criteria as data in "
        "hcctrial.safety); baseline is the last result on or before the first infusion; worst "
        "grade over all results after it; subjects of the safety population."
    )
    worst_rows = []
    for (arm, term), grp in shifts.group_by("ARM", "TERM", maintain_order=True):
        row = {"Term": str(term), "Arm": str(arm), "N": int(grp["n"].sum())}
        for g in range(5):
            row[f"Worst {g}"] = int(grp.filter(pl.col("WTOXGR") == str(g))["n"].sum())
        row["Missing"] = int(grp.filter(pl.col("WTOXGR") == "MISSING")["n"].sum())
        worse = grp.filter(
            (pl.col("WTOXGR") != "MISSING")
            & (pl.col("BTOXGR") != "MISSING")
            & (pl.col("WTOXGR") > pl.col("BTOXGR"))
        )
        row["Worsened"] = int(worse["n"].sum())
        worst_rows.append(row)
    worst = pl.DataFrame(worst_rows).sort("Term", "Arm")
    abnormal = worst.group_by("Term").agg(
        (pl.sum_horizontal(*[pl.col(f"Worst {g}") for g in range(1, 5)]) > 0).any().alias("_A")
    )
    shown = worst.join(abnormal.filter("_A").select("Term"), on="Term", how="semi")
    section.add_table(
        shown, "Subjects by worst post-baseline grade, per term (terms with any grade >= 1)"
    )
    quiet = sorted(set(worst["Term"].to_list()) - set(shown["Term"].to_list()))
    if quiet:
        section.add_text(
            "No subject had a post-baseline grade of 1 or more (or no post-baseline result) for: "
            + ", ".join(quiet)
            + "."
        )
    severe = worst.filter((pl.col("Worst 3") + pl.col("Worst 4")) > 0)["Term"].unique().to_list()
    if severe:
        matrix = (
            shifts.filter(pl.col("TERM").is_in(severe))
            .pivot(on="WTOXGR", index=["TERM", "ARM", "BTOXGR"], values="n", sort_columns=True)
            .fill_null(0)
            .sort("TERM", "ARM", "BTOXGR")
            .rename({"TERM": "Term", "ARM": "Arm", "BTOXGR": "Baseline grade"})
        )
        renamed = {c: f"Worst {c}" for c in matrix.columns if c not in ("Term", "Arm")}
        renamed.pop("Baseline grade", None)
        section.add_table(
            matrix.rename(renamed),
            "Shift from baseline grade to worst grade (terms reaching grade 3 or 4)",
        )
    return section


def dose_levels_of(protocol: Protocol, adsl: pl.DataFrame) -> pl.DataFrame:
    """``USUBJID, DOSELVL`` (dose-level id) from the arm label naming the level (as DM.ARM of
    an escalation study does, 'Arm (level label)'); subjects without a level are left out."""
    levels = list(protocol.dose_levels)
    if not levels:
        raise InputError("the protocol has no dose levels")
    expr = pl.lit(None, pl.String)
    for level in sorted(levels, key=lambda d: -len(d.label)):
        expr = (
            pl.when(pl.col("ARM").str.contains(level.label, literal=True))
            .then(pl.lit(level.id))
            .otherwise(expr)
        )
    return adsl.select("USUBJID", expr.alias("DOSELVL")).drop_nulls("DOSELVL")


def escalation_path(
    protocol: Protocol, adsl: pl.DataFrame, dlt_subjects: pl.DataFrame
) -> pl.DataFrame:
    """The cohorts as they were treated (by first infusion date) and the decision the
    protocol's rule gives after each, replayed with the safety engine's decision functions.

    Returns ``COHORT, LEVEL, DOSE_LEVEL`` (1-based), ``N``, ``N_DLT``, ``DECISION``, ``RULE``.
    """
    from hcctrial.safety.boin import boin_decision
    from hcctrial.safety.three_plus_three import three_plus_three_decision

    esc = protocol.design.dose_escalation
    if esc is None:
        raise InputError("the protocol has no dose-escalation design")
    ids = list(esc.levels)
    treated = (
        adsl.filter(pl.col("SAFFL") == "Y")
        .select("USUBJID", "TRTSDT")
        .join(dose_levels_of(protocol, adsl), on="USUBJID")
        .join(dlt_subjects.select("USUBJID", "DLTFL"), on="USUBJID", how="left")
        .sort("TRTSDT", "USUBJID")
    )
    n = [0] * len(ids)
    y = [0] * len(ids)
    rows: list[dict[str, object]] = []
    cohort: list[tuple[str, bool]] = []
    entries = treated.select("DOSELVL", "DLTFL").iter_rows()
    for level, flag in entries:
        if cohort and (cohort[0][0] != level or len(cohort) == esc.cohort_size):
            rows.append(_cohort_row(len(rows) + 1, cohort, ids, n, y))
            cohort = []
        cohort.append((str(level), flag == "Y"))
    if cohort:
        rows.append(_cohort_row(len(rows) + 1, cohort, ids, n, y))
    for row in rows:
        j = ids.index(str(row["LEVEL"]))
        counts_n, counts_y = row.pop("_N"), row.pop("_Y")
        if esc.design == "3+3":
            capped = [min(v, 6) for v in counts_n]  # type: ignore[attr-defined]
            decision = three_plus_three_decision(capped, counts_y, j)  # type: ignore[arg-type]
        else:
            decision = boin_decision(
                counts_n,  # type: ignore[arg-type]
                counts_y,  # type: ignore[arg-type]
                j,
                esc.target_dlt_rate or 0.3,
                max_n=esc.max_patients,
                cutoff=esc.elimination_cutoff,
            )
        row["DECISION"] = decision.action
        row["RULE"] = decision.rule
    return pl.DataFrame(
        rows,
        schema={
            "COHORT": pl.Int64,
            "LEVEL": pl.String,
            "DOSE_LEVEL": pl.Int64,
            "N": pl.Int64,
            "N_DLT": pl.Int64,
            "DECISION": pl.String,
            "RULE": pl.String,
        },
    )


def _cohort_row(
    k: int, cohort: list[tuple[str, bool]], ids: list[str], n: list[int], y: list[int]
) -> dict[str, object]:
    level = cohort[0][0]
    j = ids.index(level)
    n[j] += len(cohort)
    y[j] += sum(d for _, d in cohort)
    return {
        "COHORT": k,
        "LEVEL": level,
        "DOSE_LEVEL": j + 1,
        "N": len(cohort),
        "N_DLT": sum(d for _, d in cohort),
        "_N": list(n),
        "_Y": list(y),
    }


def dlt_section(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> Section:
    """DLTs per dose level with exact CIs, DLT events, and the escalation path."""
    spec = protocol.safety.dlt
    if spec is None:
        raise InputError("the protocol defines no DLT rules (safety.dlt)")
    if "AE" not in data:
        raise InputError("no AE domain: DLTs are adverse events", expected="ae.csv")
    treated = _safety_population(adsl)
    with_levels = treated.join(dose_levels_of(protocol, adsl), on="USUBJID", how="left")
    result = evaluate_dlt(spec, with_levels, data["AE"])
    section = Section("dlt", "Dose-limiting toxicities and dose escalation")
    section.add_text(
        f"DLT window: {spec.window_days} days from the {spec.window_start.replace('-', ' ')}; "
        f"attribution: {spec.attribution}; rules: "
        + "; ".join(f"{r.id}: {r.description}" for r in spec.rules)
        + ". Evaluable: a DLT occurred or follow-up completed the window."
    )
    subjects = result.subjects
    labels = {d.id: d.label for d in protocol.dose_levels}
    rows = []
    order = [d.id for d in protocol.dose_levels]
    for level in order:
        at = subjects.filter(pl.col("DOSELVL") == level) if "DOSELVL" in subjects.columns else None
        if at is None or at.is_empty():
            continue
        ev = at.filter(pl.col("DLTEVLFL") == "Y")
        k = int((ev["DLTFL"] == "Y").sum())
        lo, hi = clopper_pearson(k, ev.height) if ev.height else (float("nan"),) * 2
        rows.append(
            {
                "Dose level": labels.get(level, level),
                "Treated": at.height,
                "Evaluable": ev.height,
                "With DLT": k,
                "DLT rate (exact 95% CI)": (
                    f"{100 * k / ev.height:.0f}% ({100 * lo:.0f}-{100 * hi:.0f}%)"
                    if ev.height
                    else "-"
                ),
            }
        )
    section.add_table(pl.DataFrame(rows), "DLT by dose level (Clopper-Pearson exact CI)")
    if result.events.height:
        events = result.events.join(
            subjects.select("USUBJID", "DOSELVL"), on="USUBJID", how="left"
        ).select(
            "USUBJID",
            pl.col("DOSELVL").replace_strict(labels, default=pl.col("DOSELVL")).alias("Level"),
            "DLTRULE",
            "TERM",
            "GRADE",
            pl.col("DLTDAY").alias("Day in window"),
            pl.col("DURATION").alias("Duration (days)"),
        )
        section.add_table(events, f"Qualifying DLT events ({events.height})")
    else:
        section.add_text("No event met a DLT rule within the window.")
    if protocol.design.dose_escalation is not None:
        path = escalation_path(protocol, adsl, subjects)
        if path.height:
            names = [labels.get(i, i) for i in protocol.design.dose_escalation.levels]
            section.add_figure(
                escalation_path_figure(
                    path,
                    title=f"Escalation path ({protocol.design.dose_escalation.design})",
                    dose_labels=names,
                ),
                "Dose level of each cohort in treatment order; labels give DLTs / patients; "
                "orange points mark cohorts with a DLT.",
            )
            section.add_table(
                path.select(
                    "COHORT",
                    pl.col("LEVEL").replace_strict(labels, default=pl.col("LEVEL")),
                    "N",
                    "N_DLT",
                    pl.col("DECISION").alias("Decision after the cohort"),
                    pl.col("RULE").alias("Rule (hcctrial.safety)"),
                ),
                "Cohorts and escalation decisions",
            )
    return section


def safety_sections(protocol: Protocol, data: StudyData, adsl: pl.DataFrame) -> list[Section]:
    """AE tables, CRS/ICANS, lab shifts, DLTs and the escalation path (each guarded)."""
    sections = guarded("ae", "Adverse events", lambda: ae_section(protocol, data, adsl))
    cells = any(i.kind == "biological" for i in protocol.interventions)
    if cells:
        sections += guarded(
            "crs",
            "Cytokine release syndrome and ICANS",
            lambda: crs_icans_section(protocol, data, adsl),
        )
    sections += guarded(
        "labs",
        "Laboratory toxicity (CTCAE shift tables)",
        lambda: lab_section(protocol, data, adsl),
    )
    if protocol.safety.dlt is not None or protocol.design.dose_escalation is not None:
        sections += guarded(
            "dlt",
            "Dose-limiting toxicities and dose escalation",
            lambda: dlt_section(protocol, data, adsl),
        )
    return sections
