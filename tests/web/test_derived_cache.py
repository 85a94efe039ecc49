"""The derived-results cache: a bounded least-recently-used map (hypothesis over operation
sequences, checked against a plain model of it)."""

from __future__ import annotations

from collections import OrderedDict

from hypothesis import given
from hypothesis import strategies as st

from hcctrial.web.derived import DerivedCache

keys = st.integers(min_value=0, max_value=6)


@given(capacity=st.integers(min_value=0, max_value=4), ops=st.lists(st.tuples(keys, st.booleans())))
def test_cache_is_a_bounded_lru_that_never_returns_a_stale_value(
    capacity: int, ops: list[tuple[int, bool]]
) -> None:
    cache = DerivedCache(capacity)
    model: OrderedDict[int, str] = OrderedDict()
    computed = 0
    for step, (key, store) in enumerate(ops):
        fresh = f"value {key} computed at step {step}"

        def compute(fresh: str = fresh) -> str:
            nonlocal computed
            computed += 1
            return fresh

        got = cache.get_or_compute(key, compute, store=store)
        if key in model:
            assert got == model[key]  # a hit returns what was stored under the key
            model.move_to_end(key)
        else:
            assert got == fresh
            if capacity and store:
                model[key] = fresh
                while len(model) > capacity:
                    model.popitem(last=False)
        assert len(cache._items) <= capacity
        assert list(cache._items) == list(model)
    assert cache.hits + cache.misses == len(ops)
    assert cache.misses == computed
