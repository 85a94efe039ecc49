"""simulate_trial end to end: reproducible, valid SDTM read back by the io validator, screening
with the real criteria, designs (randomized, dose escalation, single arm), every seed protocol."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hcctrial.errors import InputError
from hcctrial.io import read_study, write_study
from hcctrial.protocol import builtin_protocols, load_protocol
from hcctrial.simulate import simulate_trial

HERE = Path(__file__).parent
MINIMAL = HERE.parent / "protocol" / "minimal.yaml"
ESCALATION = HERE / "escalation.yaml"
DOMAINS = ("DM", "IE", "DS", "EX", "LB", "VS", "AE", "TU", "TR")


@pytest.fixture(scope="module")
def small() -> object:
    return simulate_trial(load_protocol(MINIMAL), seed=11)


def test_same_seed_same_trial_other_seed_other_trial(small: object) -> None:
    again = simulate_trial(load_protocol(MINIMAL), seed=11)
    other = simulate_trial(load_protocol(MINIMAL), seed=12)
    for name in DOMAINS:
        assert_frame_equal(small[name], again[name])  # type: ignore[index]
    assert not small["TR"].equals(other["TR"])  # type: ignore[index]


def test_writes_sdtm_that_read_study_accepts(small: object, tmp_path: Path) -> None:
    write_study(small, tmp_path)  # type: ignore[arg-type]
    back = read_study(tmp_path, on_error="raise")
    assert set(DOMAINS) <= set(back.domains)
    assert back.problems.height == 0
    assert back["LB"].height == small["LB"].height  # type: ignore[index]
    assert back["TR"].get_column("TRDT").null_count() == 0


def test_enrols_the_target_and_screen_failures_name_their_criteria(small: object) -> None:
    dm = small["DM"]  # type: ignore[index]
    enrolled = dm.filter(pl.col("ARMCD") != "SCRNFAIL")
    assert enrolled.height == 20  # enrolment_target of minimal.yaml
    failures = dm.filter(pl.col("ARMCD") == "SCRNFAIL").get_column("USUBJID").to_list()
    # a screen failure failed a criterion (IE rows) or met them all and withdrew (SIM-WITHDRAW)
    ds_fail = small["DS"].filter(pl.col("DSDECOD") == "SCREEN FAILURE")  # type: ignore[index]
    withdrew = ds_fail.filter(pl.col("DSTERM").str.contains("withdrew consent"))["USUBJID"]
    ie = small["IE"]  # type: ignore[index]
    assert set(ie.get_column("USUBJID").to_list()) == set(failures) - set(withdrew.to_list())
    assert set(withdrew.to_list()).isdisjoint(ie.get_column("USUBJID").to_list())
    assert set(ie.get_column("IETESTCD").to_list()) <= {"IN-AGE", "IN-PLT"}
    # each failure really fails its criterion: age outside 18-80 or platelets < 60
    lb = small["LB"].filter((pl.col("LBTESTCD") == "PLT") & (pl.col("LBCAT") == "SCREENING"))  # type: ignore[index]
    for usubjid, test in ie.select("USUBJID", "IETESTCD").iter_rows():
        if test == "IN-PLT":
            assert lb.filter(pl.col("USUBJID") == usubjid)["LBSTRESN"][0] < 60
        else:
            age = dm.filter(pl.col("USUBJID") == usubjid)["AGE"][0]
            assert not 18 <= age <= 80
    ds = small["DS"].filter(pl.col("DSDECOD") == "SCREEN FAILURE")  # type: ignore[index]
    assert sorted(ds.get_column("USUBJID").to_list()) == sorted(failures)


def test_treated_subjects_have_exposure_tumour_and_disposition(small: object) -> None:
    dm = small["DM"].filter(pl.col("ARMCD") != "SCRNFAIL")  # type: ignore[index]
    ex = small["EX"]  # type: ignore[index]
    assert set(ex.get_column("USUBJID").to_list()) == set(dm.get_column("USUBJID").to_list())
    tace = ex.filter(pl.col("EXTRT").str.contains("CHEMOEMBOLIZATION"))
    assert tace.height == dm.height  # one TACE each on day 0
    # every death in DM has a DEATH disposition on the same date
    deaths = dm.filter(pl.col("DTHFL") == "Y").select("USUBJID", "DTHDTC")
    ds = small["DS"].filter(pl.col("DSDECOD") == "DEATH").select("USUBJID", "DSSTDTC")  # type: ignore[index]
    assert sorted(deaths.rows()) == sorted(ds.rows())
    # baseline imaging for everyone, and target lesions measurable (>= 10 mm) at baseline
    tr = small["TR"]  # type: ignore[index]
    base = tr.filter((pl.col("VISIT") == "SCREENING") & (pl.col("TRTESTCD") == "LDIAM"))
    assert base.get_column("USUBJID").n_unique() == dm.height
    assert base.get_column("TRSTRESN").min() >= 10
    # CAR-T kinetics in LB peak after the infusion (week 1 = day 7)
    kin = small["LB"].filter(pl.col("LBTESTCD") == "CARDNA")  # type: ignore[index]
    assert kin.height > 0 and kin.get_column("LBSTRESN").max() > 100


def test_randomized_seed_allocates_one_to_one() -> None:
    protocols = builtin_protocols()
    if "NCT04011033" not in protocols:
        pytest.skip("NCT04011033 protocol not present")
    data = simulate_trial(protocols["NCT04011033"], seed=3)
    dm = data["DM"].filter(~pl.col("ARMCD").is_in(["SCRNFAIL", "NOTASSGN"]))
    counts = dm.group_by("ARMCD").len().get_column("len").to_list()
    assert sum(counts) == 60 and len(counts) == 2
    assert abs(counts[0] - counts[1]) <= 4  # permuted blocks within strata
    assert data["DS"].filter(pl.col("DSDECOD") == "RANDOMIZED").height == 60


def test_dose_escalation_follows_three_plus_three() -> None:
    data = simulate_trial(load_protocol(ESCALATION), seed=5)
    dm = data["DM"].filter(~pl.col("ARMCD").is_in(["SCRNFAIL", "NOTASSGN"]))
    ex = data["EX"].filter(pl.col("EXTRT") == "CAR-T CELLS")
    per_dose = dict(ex.group_by("EXDOSE").len().rows())
    dlt = data["AE"].filter(pl.col("AEDLT") == "Y")
    assert ex.height == dm.height
    # cohorts of 3; never more than 6 at a level; a level is left only with <= 1 DLT
    assert all(n % 3 == 0 and n <= 6 for n in per_dose.values())
    assert min(per_dose) == 1e8
    assert dlt.height <= 2 * len(per_dose)


@pytest.mark.parametrize("pid", sorted(builtin_protocols()))
def test_every_seed_protocol_simulates_at_its_target(pid: str) -> None:
    protocol = builtin_protocols()[pid]
    data = simulate_trial(protocol, seed=1)
    assert data.problems.height == 0
    dm = data["DM"].filter(~pl.col("ARMCD").is_in(["SCRNFAIL", "NOTASSGN"]))
    target = protocol.design.enrolment_target
    if protocol.design.dose_escalation is None and target:
        assert dm.height == target
    assert data["TR"].height > 0 and data["EX"].height > 0


def test_bad_arguments_are_input_errors() -> None:
    protocol = load_protocol(MINIMAL)
    with pytest.raises(InputError, match="number of subjects"):
        simulate_trial(protocol, seed=1, n_subjects=0)
    with pytest.raises(InputError, match="seed"):
        simulate_trial(protocol, seed=-3)
    with pytest.raises(InputError, match="HR"):
        simulate_trial(protocol, seed=1, effect=0.0)


def test_unbuildable_schedule_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # minimal.yaml with the CAR-T infusions 14 days apart while its cycle lasts 28 days
    # (the schedule engine's overlapping-cycles check, tests/schedule/test_errors.py)
    import yaml

    from hcctrial.cli import main
    from hcctrial.simulate.oc import operating_characteristics

    raw = yaml.safe_load(Path(MINIMAL).read_text())
    raw["schedule"]["events"][1]["weeks"] = [1, 3, 5]
    bad = tmp_path / "overlap.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="overlapping cycles"):
        simulate_trial(load_protocol(bad), seed=1)
    with pytest.raises(InputError, match="overlapping cycles"):
        operating_characteristics(load_protocol(bad), trials=5, seed=1)
    code = main(["simulate", "--protocol", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "overlapping cycles" in err and "protocol my-trial" in err
    assert "cycle_length_days" in err
    assert "Traceback" not in err


def test_consort_flow_lists_every_screen_failure_with_a_reason() -> None:
    """pd1-ko-t-tace, seed 1 (the docs example): 8 screen failures, 6 failing a criterion (IE)
    and 2 who met every criterion and withdrew (DS only, SIM-WITHDRAW); the report's CONSORT
    flow names both kinds (src/hcctrial/report/build.py: DS terms of failures without IE)."""
    from hcctrial.io.adsl import derive_adsl
    from hcctrial.report.build import consort_flow
    from hcctrial.report.tables import consort_html

    data = simulate_trial("pd1-ko-t-tace", seed=1)
    flow = consort_flow(data, derive_adsl(data))
    ie_subjects = data["IE"]["USUBJID"].n_unique()
    withdrew = data["DS"].filter(pl.col("DSTERM").str.contains("withdrew consent")).height
    assert withdrew >= 1
    assert flow.excluded == ie_subjects + withdrew
    others = dict(flow.other_reasons)
    assert others == {"SCREEN FAILURE: withdrew consent before enrolment": withdrew}
    assert sum(n for _, n in flow.excluded_reasons) >= ie_subjects  # criteria only
    html = consort_html(flow)
    assert f"Not meeting eligibility criteria: n = {ie_subjects}" in html
    assert f"Other reasons: n = {withdrew}" in html


def test_pbmc_collection_opens_the_il1rap_ae_window() -> None:
    """il1rap-car-t collects AEs "from the start of PBMC collection" (day -21): the simulated
    subject's apheresis is a DS protocol milestone after consent and before the infusion, so the
    report's treatment-emergent AEs are not empty (without it no window opened and the report
    said no TEAE was recorded although CRS was simulated)."""
    from hcctrial.report.safety import treatment_emergent_ae
    from hcctrial.safety.adverse_events import derive_subject_anchors

    protocol = load_protocol("il1rap-car-t")
    data = simulate_trial(protocol, seed=1)
    anchors = derive_subject_anchors(data["DM"], ds=data["DS"], ex=data["EX"])
    treated = anchors.filter(pl.col("TRTSDT").is_not_null())
    assert treated.height >= 3
    assert treated["PBMCDT"].null_count() == 0
    assert (treated["CONSDT"] < treated["PBMCDT"]).all()
    assert ((treated["TRTSDT"] - treated["PBMCDT"]).dt.total_days() == 21).all()
    teae = treatment_emergent_ae(protocol, data)
    assert teae.height == data["AE"].height > 0
    assert (teae["TRTEMFL"] == "Y").all()
    # a donor's PBMC collection (NCT04162158) is not the subject's milestone
    nk = simulate_trial("NCT04162158", seed=1, n_subjects=10)
    assert not nk["DS"]["DSDECOD"].str.contains("PBMC").any()
