"""Bad time/event data given to the statistics: an InputError naming the row, never a traceback."""

from __future__ import annotations

import numpy as np
import pytest

from hcctrial.endpoints import cox_ph, kaplan_meier, logrank_test
from hcctrial.errors import InputError


@pytest.mark.parametrize(
    ("time", "event", "row", "column", "match"),
    [
        ([10, np.nan, 30], [1, 0, 1], 2, "time", "missing or non-finite time"),
        ([10, np.inf, 30], [1, 0, 1], 2, "time", "missing or non-finite time"),
        ([10, 20, -3], [1, 0, 1], 3, "time", "negative time"),
        ([10, 20, 30], [1, 2, 1], 2, "event", "0 \\(censored\\) or 1 \\(event\\)"),
        ([10, 20, 30], [1.0, 0.5, 1.0], 2, "event", "0 \\(censored\\) or 1 \\(event\\)"),
        ([10, 20, 30], ["1", "x", "0"], 1, "event", "0 \\(censored\\) or 1 \\(event\\)"),
        (["10", "ten", "30"], [1, 0, 1], None, "time", "times must be numbers"),
    ],
)
def test_bad_time_or_event_names_row_and_column(
    time: list[object], event: list[object], row: int | None, column: str, match: str
) -> None:
    for call in (
        lambda: kaplan_meier(time, event),
        lambda: logrank_test(time, event, ["A", "B", "A"]),
        lambda: cox_ph(time, event, {"arm": [1, 0, 1]}),
    ):
        with pytest.raises(InputError, match=match) as info:
            call()
        assert info.value.problem.row == row and info.value.problem.column == column


def test_boolean_and_integer_events_are_the_same() -> None:
    t = [5, 8, 8, 12, 20]
    a = kaplan_meier(t, [True, False, True, True, False])
    b = kaplan_meier(t, np.array([1, 0, 1, 1, 0], dtype=np.int8))
    c = kaplan_meier(t, [1.0, 0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(a.surv, b.surv)
    np.testing.assert_array_equal(a.surv, c.surv)
