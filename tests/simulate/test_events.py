"""Simulated adverse events: post-embolisation syndrome after each TACE/TAE (the rate of
parameters.TOXICITY.pes_after_tace) and relatedness (AEREL) by cause and timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hcctrial.dates import derive_date
from hcctrial.protocol import load_protocol
from hcctrial.simulate import simulate_trial
from hcctrial.simulate.events import post_embolisation_syndrome, relatedness, seriousness
from hcctrial.simulate.parameters import TOXICITY


@pytest.mark.parametrize(
    ("cause", "day", "lab", "expected"),
    [
        ("cell", 3, None, "RELATED"),  # CRS / ICANS
        ("tace", 1, None, "RELATED"),  # post-embolisation syndrome
        ("lab", 31, "ALT", "RELATED"),  # 3 days after the TACE on day 28
        ("lab", 45, "ALT", "UNLIKELY RELATED"),  # 17 days after TACE, 38 after an infusion
        ("lab", 65, "ALT", "POSSIBLY RELATED"),  # 37 days after TACE, 5 after the infusion
        ("lab", 10, "LYM", "PROBABLY RELATED"),  # 3 days after the infusion on day 7
        ("lab", 35, "PLT", "PROBABLY RELATED"),  # 28 days after the infusion: still inside
        ("lab", 36, "PLT", "UNLIKELY RELATED"),  # 29 days: outside
        ("lab", 200, "AST", "UNLIKELY RELATED"),
        ("lab", 7, "NEUT", "UNLIKELY RELATED"),  # a sample on the infusion day precedes it
    ],
)
def test_relatedness_rule(cause: str, day: int, lab: str | None, expected: str) -> None:
    assert relatedness(cause, day, infusions=[7, 60], tace_days=[0, 28], lab=lab) == expected


def test_relatedness_needs_a_known_cause() -> None:
    with pytest.raises(ValueError, match="unknown AE cause"):
        relatedness("lab", 3, [], [])


def test_post_embolisation_syndrome_rate_and_symptoms() -> None:
    episodes = post_embolisation_syndrome(np.random.default_rng(0), 40_000)
    pes = np.array([e[0] for e in episodes])
    fever, pain, nausea = (np.array([e[k] for e in episodes])[pes] for k in (1, 2, 3))
    assert pes.mean() == pytest.approx(TOXICITY.pes_after_tace, abs=0.01)  # 53.9%
    assert (fever | pain).all()
    assert not any(any(e[1:]) for e in episodes if not e[0])
    assert fever.mean() == pytest.approx(0.70 + 0.3 * 0.25 * 0.5, abs=0.015)
    assert nausea.mean() == pytest.approx(0.40, abs=0.015)


@pytest.fixture(scope="module")
def trial() -> dict[str, pl.DataFrame]:
    data = simulate_trial("NCT04011033", seed=21, n_subjects=120)
    return {k: data[k] for k in ("DM", "EX", "AE", "VS")}


def test_syndrome_follows_tace_procedures_at_the_cited_rate(
    trial: dict[str, pl.DataFrame],
) -> None:
    ex = derive_date(trial["EX"].filter(pl.col("EXCAT") == "PROCEDURE"), "EXSTDTC")
    ae = derive_date(trial["AE"].filter(pl.col("AECAT") == "PES"), "AESTDTC")
    assert set(ae["AEDECOD"].unique()) <= {"Pyrexia", "Abdominal pain", "Nausea"}
    assert (ae["AEREL"] == "RELATED").all()
    assert ae["AETOXGR"].is_in(["1", "2"]).all()
    # every episode starts the day after one of the subject's procedures
    procs = ex.select("USUBJID", (pl.col("EXSTDT") + pl.duration(days=1)).alias("AESTDT"))
    assert ae.join(procs, on=["USUBJID", "AESTDT"], how="anti").is_empty()
    episodes = ae.select("USUBJID", "AESTDT").unique().height
    # procedures are ~2 per subject; the 53.9% rate within its binomial 3-SE band
    n = ex.height
    se = (TOXICITY.pes_after_tace * (1 - TOXICITY.pes_after_tace) / n) ** 0.5
    assert abs(episodes / n - TOXICITY.pes_after_tace) <= 3 * se + 0.02
    # a fever episode has a febrile temperature that day
    fever = ae.filter(pl.col("AEDECOD") == "Pyrexia")
    vs = derive_date(trial["VS"].filter(pl.col("VSTESTCD") == "TEMP"), "VSDTC")
    hot = fever.join(vs, left_on=["USUBJID", "AESTDT"], right_on=["USUBJID", "VSDT"])
    assert hot.group_by("USUBJID", "AESTDT").agg(pl.col("VSSTRESN").max())["VSSTRESN"].min() >= 38


def test_relatedness_is_not_one_value_and_follows_the_arm(
    trial: dict[str, pl.DataFrame],
) -> None:
    ae = trial["AE"].join(trial["DM"].select("USUBJID", "ARMCD"), on="USUBJID")
    assert ae["AEREL"].n_unique() >= 3
    assert (ae.filter(pl.col("AECAT").is_in(["CRS", "ICANS"]))["AEREL"] == "RELATED").all()
    control = ae.filter(pl.col("ARMCD") == "TACE")
    # no cell infusion in the control arm: no CRS and nothing attributed to an infusion
    assert control.filter(pl.col("AECAT") == "CRS").is_empty()
    assert not control["AEREL"].is_in(["PROBABLY RELATED", "POSSIBLY RELATED"]).any()
    cytopenia = ae.filter(pl.col("AEDECOD").str.contains("count decreased"))
    treated = cytopenia.filter(pl.col("ARMCD") == "INKT-TACE")
    assert treated["AEREL"].is_in(["PROBABLY RELATED"]).mean() > 0.5


def test_car_t_lymphopenia_matches_the_solid_tumour_meta_analysis() -> None:
    """CAR-T in solid tumours: lymphopenia 89.2% any grade, 52.0% grade >= 3 (163 trials,
    research file E). The simulated "lymphocyte count decreased" AEs of a TACE + CAR-T arm (300
    subjects; binomial SE ~0.02-0.03) lie within 0.05 of both."""
    protocol = load_protocol(Path(__file__).parent.parent / "protocol" / "minimal.yaml")
    data = simulate_trial(protocol, seed=8, n_subjects=300)
    treated = data["DM"].filter(~pl.col("ARMCD").is_in(["SCRNFAIL", "NOTASSGN"])).height
    lym = data["AE"].filter(pl.col("AEDECOD") == "Lymphocyte count decreased")
    severe = lym.filter(pl.col("AETOXGR").cast(pl.Int64) >= 3)
    assert lym["USUBJID"].n_unique() / treated == pytest.approx(TOXICITY.lymphopenia_any, abs=0.05)
    assert severe["USUBJID"].n_unique() / treated == pytest.approx(
        TOXICITY.lymphopenia_g3, abs=0.05
    )
    assert (lym["AEREL"] == "PROBABLY RELATED").mean() > 0.9


@pytest.mark.parametrize(
    ("category", "grade", "serious"),
    [("CRS", 3, "Y"), ("ICANS", 4, "Y"), ("CRS", 2, "N"), (None, 4, "N"), (None, 5, "Y")],
)
def test_seriousness_rule(category: str | None, grade: int, serious: str) -> None:
    assert seriousness(category, grade) == serious


def test_lab_toxicities_are_not_serious_events(trial: dict[str, pl.DataFrame]) -> None:
    """A grade 3-4 lab value is a finding, not by itself an SAE (ICH E2A): before SIM-SAE every
    grade >= 3 AE was serious, and sz003-car-nk's report showed 85% of subjects with an SAE."""
    ae = trial["AE"]
    labs = ae.filter(pl.col("AEBODSYS") == "Investigations")
    assert labs.filter(pl.col("AETOXGR").cast(pl.Int64) >= 3).height > 0
    assert (labs["AESER"] == "N").all()
    crs = ae.filter(pl.col("AECAT").is_in(["CRS", "ICANS"]))
    expected = ["Y" if int(g) >= 3 else "N" for g in crs["AETOXGR"]]
    assert crs["AESER"].to_list() == expected
