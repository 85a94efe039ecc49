"""Efficacy endpoints: ADTTE derivations, response rates and survival statistics.

Statistics reproduce R's ``survival`` package (Therneau, 3.5-3) to 1e-6 relative or better
(see ``tests/endpoints``): :func:`kaplan_meier` (Greenwood, log / log-log / plain CIs,
Brookmeyer-Crowley quantiles), :func:`logrank_test` (G-rho, stratified), :func:`cox_ph`
(Efron / Breslow ties), :func:`clopper_pearson`, :func:`newcombe_difference`.
"""

from hcctrial.endpoints.counts import EventTable, tabulate
from hcctrial.endpoints.cox import CoxFit, cox_ph
from hcctrial.endpoints.km import (
    CONF_TYPES,
    KaplanMeier,
    Quantile,
    kaplan_meier,
    kaplan_meier_by_group,
    numbers_at_risk,
)
from hcctrial.endpoints.logrank import LogRank, logrank_from_table, logrank_test
from hcctrial.endpoints.rates import (
    Proportion,
    ProportionDifference,
    clopper_pearson,
    newcombe_difference,
    proportion,
    wilson,
)

__all__ = [
    "CONF_TYPES",
    "CoxFit",
    "EventTable",
    "KaplanMeier",
    "LogRank",
    "Proportion",
    "ProportionDifference",
    "Quantile",
    "clopper_pearson",
    "cox_ph",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "logrank_from_table",
    "logrank_test",
    "newcombe_difference",
    "numbers_at_risk",
    "proportion",
    "tabulate",
    "wilson",
]
