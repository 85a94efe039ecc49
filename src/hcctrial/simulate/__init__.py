"""Virtual trials: virtual advanced-HCC patients screened by a protocol's real criteria, treated
on its calendar, with tumour, survival, cellular-kinetic and toxicity models, as SDTM domains;
and operating characteristics over many replicates (vectorised).

>>> from hcctrial.simulate import simulate_trial   # doctest: +SKIP
>>> data = simulate_trial("NCT04011033", seed=1)   # doctest: +SKIP
"""

from __future__ import annotations

from hcctrial.simulate.disease import Effect
from hcctrial.simulate.parameters import ASSUMPTIONS
from hcctrial.simulate.trial import DEFAULT_START, simulate_trial

__all__ = ["ASSUMPTIONS", "DEFAULT_START", "Effect", "simulate_trial"]
