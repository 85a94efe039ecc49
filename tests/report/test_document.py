"""The report's building blocks: tables, CONSORT flow, figures and the HTML page."""

from __future__ import annotations

import polars as pl

from hcctrial.report.document import Report, Section, render_html
from hcctrial.report.figures import (
    SurvivalCurve,
    escalation_path_figure,
    kaplan_meier_figure,
    kinetics_figure,
    spider_figure,
    swimmer_figure,
    waterfall_figure,
)
from hcctrial.report.tables import ConsortFlow, baseline_characteristics, consort_html

ADSL = pl.DataFrame(
    {
        "USUBJID": ["S1", "S2", "S3", "S4", "S5"],
        "ARM": ["A", "A", "B", "B", "B"],
        "AGE": [50.0, 60.0, 40.0, 70.0, None],
        "SEX": ["M", "F", "M", "M", None],
    }
)


def test_baseline_characteristics_counts_and_medians_by_arm() -> None:
    table = baseline_characteristics(ADSL, [("AGE", "Age (years)"), ("SEX", "Sex")])
    rows = {(r["Characteristic"], r["Category"]): r for r in table.iter_rows(named=True)}
    assert rows[("Subjects", "N")]["A"] == "2" and rows[("Subjects", "N")]["Total"] == "5"
    # arm A ages 50, 60: median 55, linear quartiles 52.5 and 57.5
    assert rows[("Age (years)", "median (Q1-Q3)")]["A"] == "55 (52.5-57.5)"
    # arm B has one missing age: n = 2 non-missing
    assert rows[("", "range; n")]["B"] == "40-70; n = 2"
    assert rows[("", "M")]["B"] == "2 (66.7%)"
    assert rows[("", "missing")]["B"] == "1 (33.3%)"
    assert rows[("Sex", "F")]["Total"] == "1 (20.0%)"


def test_consort_html_escapes_reasons_and_lists_arms() -> None:
    flow = ConsortFlow(
        10,
        3,
        [("PLT < 60 x10^9/L", 2), ("<script>", 1)],
        7,
        [("A", 4), ("B", 3)],
        [("A", 4), ("B", 3)],
        [("A", 3), ("B", 3)],
        [("A", 4), ("B", 3)],
    )
    html = consort_html(flow)
    assert "Assessed for eligibility: n = 10" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Allocated to B: n = 3" in html


def test_figures_are_inline_svg() -> None:
    curve = SurvivalCurve("A", [10.0, 20.0], [0.8, 0.5], [0.6, 0.3], [0.9, 0.7], [15.0])
    at_risk = pl.DataFrame({"label": ["A", "A"], "time": [0.0, 30.0], "n_at_risk": [5, 2]})
    svgs = [
        kaplan_meier_figure([curve], at_risk, title="OS", time_scale=30.4375),
        waterfall_figure(
            pl.DataFrame({"USUBJID": ["1", "2"], "PCHG": [-40.0, 25.0], "BOR": ["PR", "PD"]}),
            title="Waterfall",
        ),
        spider_figure(
            pl.DataFrame({"USUBJID": ["1", "1"], "ADY": [0, 56], "PCHG": [0.0, -35.0]}),
            title="Spider",
        ),
        swimmer_figure(
            pl.DataFrame({"USUBJID": ["1"], "END_DY": [200.0]}),
            pl.DataFrame({"USUBJID": ["1"], "DY": [56.0], "EVENT": ["PR"]}),
            title="Swimmer",
        ),
        kinetics_figure(
            pl.DataFrame({"USUBJID": ["1", "1"], "DY": [1, 9], "AVAL": [10.0, 2.0e4]}),
            title="CAR",
            unit="copies/ug",
        ),
        escalation_path_figure(
            pl.DataFrame({"COHORT": [1, 2], "DOSE_LEVEL": [1, 2], "N": [3, 3], "N_DLT": [0, 1]}),
            title="Path",
            dose_labels=["1.0e8", "2.5e8", "5.0e8"],
        ),
    ]
    for svg in svgs:
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "Number at risk" in svgs[0]


def test_render_html_keeps_unavailable_sections_with_reason() -> None:
    ok = Section("efficacy", "Efficacy")
    ok.add_table(pl.DataFrame({"ORR": ["3/10"]}), caption="Response")
    missing = Section("kinetics", "Cellular kinetics", unavailable="no CAR-T copy data in LB")
    html = render_html(Report("Trial <X>", ["sub"], [ok, missing]))
    assert "Trial &lt;X&gt;" in html
    assert "Not computed:</strong> no CAR-T copy data in LB" in html
    assert "<td>3/10</td>" in html
    assert "<script src" not in html and "http" not in html.split("</style>")[1]
