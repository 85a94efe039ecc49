"""Round trip: the example study (``hcctrial data example``) entered through the API as a
coordinator and investigator would, exported as SDTM (CSV and XPT), read back by the readers
every command uses, and ``hcctrial response`` run on the export gives the same tables as on
the files themselves."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hcctrial.cli import main
from hcctrial.io import example_study_folder, read_study
from hcctrial.web.export import age_at

from .conftest import PASSWORD, Env

#: Columns of the example files that the database derives (or numbers) itself.
_SEQ = {"STUDYID", "DOMAIN"}


def _api_user(env: Env, username: str, role: str) -> dict[str, str]:
    """An account with ``role`` at every site, and its bearer headers."""
    r = env.client.post(
        "/api/users",
        headers=env.headers("admin"),
        json={
            "username": username,
            "full_name": username.title(),
            "password": PASSWORD,
            "roles": [{"role": role, "site_id": None}],
        },
    )
    assert r.status_code == 201, r.text
    client, csrf = env.login(username)
    token = client.post("/api/tokens", json={"name": "round trip"}, headers={"X-CSRF-Token": csrf})
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _rows(frame: pl.DataFrame, usubjid: str) -> list[dict[str, Any]]:
    return frame.filter(pl.col("USUBJID") == usubjid).to_dicts()


def _form(row: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    return {
        k: v
        for k, v in row.items()
        if v is not None
        and v != ""
        and k not in drop
        and not k.endswith("SEQ")
        and not (k.endswith(("DT", "DTF")) and f"{k}C" in row)
    }


def enter_example_study(env: Env) -> tuple[int, pl.DataFrame | None]:
    """Set up a single-arm study and enter the example study's subjects and records; returns
    the study id."""
    files = read_study(example_study_folder())
    r = env.client.post(
        "/api/studies",
        headers=env.headers("admin"),
        json={
            "protocol": "pd1-ko-t-tace",
            "sites": [{"code": "001", "name": "Hospital 1"}, {"code": "002", "name": "Hospital 2"}],
        },
    )
    assert r.status_code == 201, r.text
    study_id = r.json()["id"]
    studies = env.client.get("/api/studies", headers=env.headers("admin")).json()
    sites = {s["code"]: s["id"] for s in next(s for s in studies if s["id"] == study_id)["sites"]}
    coord = _api_user(env, "coordall", "coordinator")
    inv = _api_user(env, "invall", "investigator")
    ds = files["DS"]
    for dm in files["DM"].to_dicts():
        usubjid = dm["USUBJID"]
        subject = env.client.post(
            "/api/subjects",
            headers=coord,
            json={
                "site_id": sites[dm["SITEID"]],
                "subjid": dm["SUBJID"],
                "usubjid": usubjid,
                "sex": dm["SEX"],
                "birth_dtc": dm["BRTHDTC"],
                "race": dm["RACE"],
                "country": dm["COUNTRY"],
                "screened_dtc": dm["RFICDTC"],
            },
        )
        assert subject.status_code == 201, subject.text
        sid = subject.json()["id"]

        def move(
            to: str, day: str, headers: dict[str, str] = coord, sid: int = sid, **detail: Any
        ) -> None:
            body: dict[str, Any] = {"to": to, "date": day}
            if detail:
                body["detail"] = detail
            res = env.client.post(f"/api/subjects/{sid}/transitions", headers=headers, json=body)
            assert res.status_code == 200, (to, res.text)

        move("consented", dm["RFICDTC"])
        findings = env.client.post(
            f"/api/subjects/{sid}/records/FINDINGS",
            headers=coord,
            json={"FINDINGS": {"diagnosis": "HCC", "bclc_stage": "C"}, "DTC": dm["RFICDTC"]},
        )
        assert findings.status_code == 201, findings.text
        move("eligible", dm["RFICDTC"], inv)
        move("enrolled", dm["RFICDTC"])
        move("treated", dm["RFXSTDTC"])
        move("off_treatment", dm["RFXENDTC"])
        leave = next(d for d in _rows(ds, usubjid) if d["DSCAT"] == "DISPOSITION EVENT")
        if leave["DSDECOD"] == "DEATH":
            move("died", dm["DTHDTC"], dsterm=leave["DSTERM"])
        else:
            move("off_study", dm["RFENDTC"], dsdecod=leave["DSDECOD"], dsterm=leave["DSTERM"])
        for domain in ("TU", "TR", "AE", "EX", "LB"):
            for row in _rows(files[domain], usubjid):
                body = _form(row, _SEQ | {"USUBJID", "LBSTRESN", "LBSTNRLO", "LBSTNRHI"})
                if domain == "LB" and row.get("LBORRESU") == row.get("LBSTRESU"):
                    # The files give the normal range in standard units only.
                    for std, orig in (("LBSTNRLO", "LBORNRLO"), ("LBSTNRHI", "LBORNRHI")):
                        if row.get(std) is not None:
                            body[orig] = row[std]
                res = env.client.post(
                    f"/api/subjects/{sid}/records/{domain}", headers=coord, json=body
                )
                assert res.status_code == 201, (domain, body, res.text)
    return study_id, None


def _export(env: Env, study_id: int, fmt: str, folder: Path) -> Path:
    r = env.client.get(
        f"/api/studies/{study_id}/export?format={fmt}", headers=env.headers("statistician")
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        archive.extractall(folder)
    return folder


def _same(a: pl.DataFrame, b: pl.DataFrame, key: list[str]) -> None:
    cols = [c for c in a.columns if c in b.columns and c not in ("STUDYID",)]
    assert_frame_equal(a.select(cols).sort(key), b.select(cols).sort(key), check_dtypes=False)


def test_round_trip_gives_the_same_study_and_the_same_response(
    env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study_id, _ = enter_example_study(env)
    exported = _export(env, study_id, "csv", tmp_path / "csv")
    files = read_study(example_study_folder())
    back = read_study(exported)
    assert set(back.domains) == {"DM", "DS", "TU", "TR", "AE", "EX", "LB"}
    for domain, key in (
        ("TU", ["USUBJID", "TULNKID"]),
        ("TR", ["USUBJID", "TRSEQ"]),
        ("AE", ["USUBJID", "AESEQ"]),
        ("EX", ["USUBJID", "EXSEQ"]),
    ):
        _same(files[domain], back[domain], key)
    lab_cols = ["USUBJID", "LBSEQ", "LBTESTCD", "LBORRES", "LBORRESU", "LBSTRESU", "VISIT"]
    _same(files["LB"].select(lab_cols), back["LB"].select(lab_cols), ["USUBJID", "LBSEQ"])
    # Standard values: the database converts (bilirubin 1.58 mg/dL = 27.02 umol/L); the file
    # rounded them to whole numbers.
    std = files["LB"].join(back["LB"], on=["USUBJID", "LBSEQ"], suffix="_db")
    assert (std["LBSTRESN"] - std["LBSTRESN_db"]).abs().max() <= 0.5
    same_unit = std.filter(pl.col("LBORRESU") == pl.col("LBSTRESU"))
    assert same_unit["LBSTNRHI"].to_list() == same_unit["LBSTNRHI_db"].to_list()
    assert std["LBDTC"].to_list() == std["LBDTC_db"].to_list()
    dm_cols = [
        "USUBJID",
        "SUBJID",
        "RFSTDTC",
        "RFXSTDTC",
        "RFXENDTC",
        "RFICDTC",
        "DTHDTC",
        "DTHFL",
        "SITEID",
        "BRTHDTC",
        "AGE",
        "SEX",
        "RACE",
        "COUNTRY",
    ]
    _same(files["DM"].select(dm_cols), back["DM"].select(dm_cols), ["USUBJID"])
    assert back["DM"]["ARMCD"].unique().to_list() == ["tace-pd1-ko-t"]

    # The response engine through the CLI, on the export and on the files.
    outs = []
    for name, folder in (("files", example_study_folder()), ("export", exported)):
        out = tmp_path / f"response-{name}"
        assert main(["response", "--data", str(folder), "--out", str(out)]) == 0
        outs.append(out)
    capsys.readouterr()
    names = sorted(p.name for p in outs[0].glob("*.csv"))
    assert names == sorted(p.name for p in outs[1].glob("*.csv"))
    for name in names:
        a, b = (pl.read_csv(o / name, infer_schema_length=None) for o in outs)
        assert a.columns == b.columns, name
        assert a.equals(b), name
    bor = pl.read_csv(outs[1] / "ADRS.csv").filter(pl.col("PARAMCD") == "BOR")
    assert bor.height == 4

    # The XPT export reads back to the same tables.
    xpt = read_study(_export(env, study_id, "xpt", tmp_path / "xpt"))
    for domain in ("TU", "TR"):
        _same(back[domain], xpt[domain], ["USUBJID", f"{domain}SEQ"])


def test_export_is_for_statisticians_and_their_sites(env: Env) -> None:
    url = f"/api/studies/{env.ids['study']}/export"
    for user in ("coordinator", "investigator", "monitor", "auditor", "admin"):
        assert env.client.get(url, headers=env.headers(user)).status_code == 403, user
    assert env.client.get(url, headers=env.headers("statistician")).status_code == 200
    assert (
        env.client.get("/api/studies/999/export", headers=env.headers("statistician")).status_code
        == 404
    )


def test_age_at_consent_with_partial_birth_dates() -> None:
    assert age_at("1962-05", "2024-02-26") == 61  # imputed to 1962-05-15
    assert age_at("1962", "2024-06-30") == 61  # imputed to 1962-07-01
    assert age_at("1962-07-01", "2024-07-01") == 62
    assert age_at(None, "2024-07-01") is None


#: Daily CRS/ICANS observations of two subjects as a ward would record them. Hand-graded
#: (ASTCT 2019, Lee et al., Biol Blood Marrow Transplant 2019;25:625-638, tables 3 and 5):
#: A day 1 fever alone -> CRS 1; day 2 fever with hypotension, no vasopressor -> 2; day 3 one
#: vasopressor and a facemask -> 3, tocilizumab given; day 4 afebrile after it, hypotension
#: still on one vasopressor -> 3 (fever masked); day 5 recovered -> 0. ICANS: ICE 8 -> 1,
#: ICE 5 -> 2, awakens to voice with ICE 2 -> 3, alert ICE 10 -> 0. B: 102.2 F = 39.0 C fever
#: alone -> 1, then afebrile -> 0.
CRS_ICANS_DAYS: list[tuple[str, dict[str, Any]]] = [
    ("A", {"FADTC": "2026-01-08", "TEMP": 38.4, "ICE": 10, "LOC": "alert"}),
    (
        "A",
        {"FADTC": "2026-01-09", "TEMP": 39.1, "HYPOTN": "Y", "VASOPN": 0, "ICE": 8},
    ),
    (
        "A",
        {
            "FADTC": "2026-01-10",
            "TEMP": 39.6,
            "HYPOTN": "Y",
            "VASOPN": 1,
            "O2DEV": "facemask",
            "O2FLOW": 8,
            "ANTICYT": "Y",
            "ICE": 5,
        },
    ),
    (
        "A",
        {
            "FADTC": "2026-01-11",
            "TEMP": 37.2,
            "HYPOTN": "Y",
            "VASOPN": 1,
            "O2DEV": "room-air",
            "ICE": 2,
            "LOC": "awakens-to-voice",
        },
    ),
    ("A", {"FADTC": "2026-01-12", "TEMP": 36.8, "HYPOTN": "N", "ICE": 10, "LOC": "alert"}),
    ("B", {"FADTC": "2026-01-09", "TEMP": 102.2, "TEMPU": "F"}),
    ("B", {"FADTC": "2026-01-10", "TEMP": 37.0, "ICE": 10}),
]
_CRS_GRADES = {("A", "2026-01-08"): 1, ("A", "2026-01-09"): 2, ("A", "2026-01-10"): 3}
_CRS_GRADES |= {("A", "2026-01-11"): 3, ("A", "2026-01-12"): 0}
_CRS_GRADES |= {("B", "2026-01-09"): 1, ("B", "2026-01-10"): 0}
_ICANS_GRADES = {("A", "2026-01-08"): 0, ("A", "2026-01-09"): 1, ("A", "2026-01-10"): 2}
_ICANS_GRADES |= {("A", "2026-01-11"): 3, ("A", "2026-01-12"): 0, ("B", "2026-01-10"): 0}


def _wide_files(env: Env, folder: Path, exported: Path) -> Path:
    """The same observations as the wide crs.csv / icans.csv a hospital team would write
    (temperatures in C), beside the exported DM: grading them directly is the reference."""
    from hcctrial.safety.crs import CRS_FIELDS
    from hcctrial.safety.icans import ICANS_FIELDS

    folder.mkdir()
    (folder / "dm.csv").write_bytes((exported / "dm.csv").read_bytes())
    for name, fields in (("crs", CRS_FIELDS), ("icans", ICANS_FIELDS)):
        rows = []
        for site, day in CRS_ICANS_DAYS:
            found = {k: v for k, v in day.items() if k in fields}
            if not found:
                continue
            if day.get("TEMPU") == "F":
                found["TEMP"] = round((day["TEMP"] - 32) * 5 / 9, 6)
            row: dict[str, Any] = {"USUBJID": env.ids[f"usubjid_{site}"], "ADT": day["FADTC"]}
            row |= {code: found.get(code) for code in fields}
            rows.append(row)
        frame = pl.DataFrame(rows, infer_schema_length=None)
        frame.select([c for c in frame.columns if frame[c].null_count() < frame.height]).write_csv(
            folder / f"{name}.csv"
        )
    return folder


def test_crs_icans_observations_round_trip_to_the_same_grades(
    env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ward = _api_user(env, "ward", "coordinator")
    for site, day in CRS_ICANS_DAYS:
        r = env.client.post(
            f"/api/subjects/{env.ids[f'subject_{site}']}/records/CRSICANS",
            headers=ward,
            json=day,
        )
        assert r.status_code == 201, r.text
    exported = _export(env, env.ids["study"], "csv", tmp_path / "export")
    fa = read_study(exported)["FA"]
    # One FA row per finding entered, every one about CRS or ICANS.
    assert fa.height == sum(len(d) - ("TEMPU" in d) - 1 for _, d in CRS_ICANS_DAYS)
    assert set(fa["FAOBJ"]) == {
        "CYTOKINE RELEASE SYNDROME",
        "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME",
    }
    fahrenheit = fa.filter((pl.col("FATESTCD") == "TEMP") & (pl.col("FAORRESU") == "F"))
    assert [float(v) for v in fahrenheit["FASTRESN"]] == [39.0]
    files = _wide_files(env, tmp_path / "files", exported)

    outs = []
    for name, folder in (("export", exported), ("files", files)):
        out = tmp_path / f"safety-{name}"
        assert main(["safety", "--data", str(folder), "--out", str(out)]) == 0
        outs.append(out)
    capsys.readouterr()
    for table in ("crs_daily", "icans_daily", "crs_icans_episodes", "crs_icans_subjects"):
        a, b = (pl.read_csv(o / f"{table}.csv", infer_schema_length=None) for o in outs)
        cols = [c for c in a.columns if c in b.columns]
        assert len(cols) >= 4, (table, a.columns, b.columns)
        assert_frame_equal(a.select(cols), b.select(cols), check_dtypes=False)

    site_of = {env.ids[f"usubjid_{s}"]: s for s in ("A", "B")}
    for table, want in (("crs_daily", _CRS_GRADES), ("icans_daily", _ICANS_GRADES)):
        daily = pl.read_csv(outs[0] / f"{table}.csv", infer_schema_length=None)
        grade = "CRSGR" if table == "crs_daily" else "ICANSGR"
        got = {(site_of[u], str(d)): g for u, d, g in daily.select("USUBJID", "ADT", grade).rows()}
        assert got == want, table
