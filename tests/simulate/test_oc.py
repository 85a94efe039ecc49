"""Operating characteristics: the vectorised log-rank and Kaplan-Meier median against
hcctrial.endpoints (tested against R survival 3.5.3), type I error under a true null, power
rising with the effect, reproducibility, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcctrial.endpoints import kaplan_meier, logrank_test
from hcctrial.errors import InputError
from hcctrial.protocol import load_protocol, parse_protocol
from hcctrial.simulate import Effect
from hcctrial.simulate.oc import (
    km_median_rows,
    logrank_rows,
    operating_characteristics,
    parse_effect,
)

HERE = Path(__file__).parent
ESCALATION = HERE / "escalation.yaml"


def _two_arm() -> object:
    """The minimal protocol made randomized 1:1 TACE + CAR-T vs TACE, PFS compared."""
    import yaml

    raw = yaml.safe_load((HERE.parent / "protocol" / "minimal.yaml").read_text())
    raw["id"] = "two-arm"
    raw["design"] = {
        "allocation": "randomized",
        "model": "parallel",
        "enrolment_target": 60,
        "randomization": {"ratio": {"car-t-tace": 1, "tace": 1}},
    }
    raw["arms"].append(
        {
            "id": "tace",
            "label": "TACE alone",
            "type": "active-comparator",
            "interventions": ["tace"],
        }
    )
    raw["endpoints"][1]["compare_arms"] = True
    raw["endpoints"][1]["role"] = "primary"
    return parse_protocol(yaml.safe_dump(raw))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(6, 40))
def test_vectorised_logrank_equals_endpoints_logrank(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    rows = 4
    time = rng.integers(1, 12, (rows, n)).astype(float)  # many ties, as on an imaging grid
    event = rng.random((rows, n)) < 0.7
    group = rng.random((rows, n)) < 0.5
    chisq, p, obs, exp = logrank_rows(time, event, group)
    for r in range(rows):
        if group[r].all() or (~group[r]).all() or not event[r].any():
            continue
        ref = logrank_test(time[r], event[r].astype(int), group[r].astype(int))
        one = ref.groups.index("1") if "1" in ref.groups else 1
        assert obs[r] == pytest.approx(ref.obs[one], abs=1e-9)
        assert exp[r] == pytest.approx(ref.exp[one], rel=1e-9, abs=1e-12)
        if ref.chisq is None:
            assert np.isnan(chisq[r])
        else:
            assert chisq[r] == pytest.approx(ref.chisq, rel=1e-9, abs=1e-12)
            assert p[r] == pytest.approx(ref.p, rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(3, 40))
def test_vectorised_km_median_equals_endpoints_km(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    rows = 4
    time = rng.integers(1, 30, (rows, n)).astype(float)  # ties and exact 0.5 plateaus
    event = rng.random((rows, n)) < 0.75
    member = rng.random((rows, n)) < 0.6
    med = km_median_rows(time, event, member)
    for r in range(rows):
        if not member[r].any():
            assert np.isnan(med[r])
            continue
        ref = kaplan_meier(time[r][member[r]], event[r][member[r]].astype(int)).median()
        if ref.estimate is None:
            assert np.isnan(med[r])
        else:
            assert med[r] == pytest.approx(ref.estimate, rel=1e-12)


def test_type_one_error_of_the_primary_log_rank_under_a_true_null() -> None:
    # identical arms: HR 1 and no extra tumour regression from the cell product
    oc = operating_characteristics(
        _two_arm(), trials=1500, seed=7, effect=Effect(hr=1.0, regression=0.0), pool_size=60
    )
    assert oc.endpoint == "PFS"
    two_sided = float((oc.per_trial["PFS_P"] < 0.05).mean())
    assert 0.025 <= two_sided <= 0.08
    assert oc.power is not None and oc.power <= 0.05


def test_power_grows_with_the_effect_and_replicates_reproduce() -> None:
    protocol = _two_arm()
    weak = operating_characteristics(protocol, trials=400, seed=3, effect=0.8, pool_size=60)
    strong = operating_characteristics(protocol, trials=400, seed=3, effect=0.4, pool_size=60)
    assert weak.power is not None and strong.power is not None
    assert strong.power > weak.power + 0.3
    again = operating_characteristics(protocol, trials=400, seed=3, effect=0.8, pool_size=60)
    assert again.per_trial.equals(weak.per_trial)
    med = strong.summary.filter(strong.summary["STATISTIC"] == "mOS, mo")
    # OS: exponential, TACE setting, median 16.9 / 6.1 months by PVTT (PMC5106296)
    control = med.filter(med["ARM"] == "tace")["MEDIAN"][0]
    assert 6.1 < control < 16.9


def test_parse_effect() -> None:
    assert parse_effect("HR=0.6") == Effect(hr=0.6)
    assert parse_effect("hr=0.5, regression=2") == Effect(hr=0.5, regression=2.0)
    with pytest.raises(InputError):
        parse_effect("OR=2")
    with pytest.raises(InputError):
        parse_effect("HR=abc")


def test_bad_requests_are_input_errors() -> None:
    with pytest.raises(InputError, match="dose-escalation"):
        operating_characteristics(load_protocol(ESCALATION), trials=10, seed=1)
    with pytest.raises(InputError, match="trials"):
        operating_characteristics(_two_arm(), trials=0, seed=1)


@pytest.mark.parametrize("protocol", ["NCT04011033", "sz003-car-nk"])
def test_vectorised_statistics_equal_a_per_replicate_loop(protocol: str) -> None:
    # the same simulated replicates (same seed), statistics two ways: the vectorised arrays and
    # one replicate at a time with hcctrial.endpoints (logrank_test, kaplan_meier,
    # clopper_pearson), which are tested against R survival 3.5.3 and binom.test
    fast = operating_characteristics(protocol, trials=40, seed=11, effect=0.6, pool_size=60)
    slow = operating_characteristics(
        protocol, trials=40, seed=11, effect=0.6, pool_size=60, statistics="loop"
    )
    a, b = fast.per_trial, slow.per_trial.select(fast.per_trial.columns)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        assert np.array_equal(np.isnan(x), np.isnan(y)), col
        ok = ~np.isnan(x)
        np.testing.assert_allclose(x[ok], y[ok], rtol=1e-9, atol=1e-12, err_msg=col)
    assert fast.power == slow.power
    if fast.power is not None:
        # Monte Carlo SE of a proportion: sqrt(p (1 - p) / replicates)
        assert fast.power_mcse == pytest.approx(np.sqrt(fast.power * (1 - fast.power) / 40))


def test_published_effect_scenario_reproduces_guo_2023() -> None:
    """NCT04011033 under --effect HR=0.5,regression=3 (the scenario docs/readme/simulate.md
    gives for rehearsing the published result) against Guo J et al., J Hepatocell Carcinoma
    2023;10:1379 (60 patients after TACE failure, 1:1): TAE-iNKT ORR 52% and median PFS 5.7
    months (95% CI 4.3-7.0); TAE ORR 11% and median PFS 2.7 months (2.3-3.2). The mean ORR of
    the replicates is within 0.05 of each published arm and the mean median PFS inside the
    published 95% CI widened by the 8-weekly assessment grid (PFS medians land on scan days)."""
    oc = operating_characteristics(
        "NCT04011033", trials=200, seed=1, effect=Effect(hr=0.5, regression=3.0)
    )
    mean = {(row["ARM"], row["STATISTIC"]): row["MEAN"] for row in oc.summary.iter_rows(named=True)}
    assert mean[("inkt-tace", "ORR")] == pytest.approx(0.52, abs=0.05)
    assert mean[("tace", "ORR")] == pytest.approx(0.11, abs=0.05)
    assert 4.3 <= mean[("inkt-tace", "mPFS, mo")] <= 7.0
    assert 1.8 <= mean[("tace", "mPFS, mo")] <= 3.7  # between the scans around 2.3-3.2
    assert oc.power is not None and oc.power > 0.6
