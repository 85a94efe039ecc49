"""Protocols as code: the pydantic schema, the loader and the built-in seed protocols.

>>> from hcctrial.protocol import builtin_protocols, load_protocol
>>> sorted(builtin_protocols())  # doctest: +NORMALIZE_WHITESPACE
['NCT04011033', 'NCT04162158', 'il1rap-car-t', 'pd1-ko-t-tace', 'sz003-car-nk']
"""

from __future__ import annotations

from hcctrial.protocol import vocabulary
from hcctrial.protocol.loader import (
    builtin_protocols,
    line_of,
    load_protocol,
    parse_protocol,
    yaml_path,
)
from hcctrial.protocol.models import (
    AEWindow,
    Anchor,
    Arm,
    Assumption,
    Biomarker,
    Censoring,
    Criterion,
    DayRange,
    Design,
    DLTRule,
    DLTSpec,
    DonorSpec,
    Dose,
    DoseEscalation,
    DoseLevel,
    Eligibility,
    Endpoint,
    FollowUp,
    Intervention,
    Protocol,
    Randomization,
    Reference,
    Repeat,
    ResponseCriteria,
    Safety,
    Schedule,
    ScheduleEvent,
    Site,
)

__all__ = [
    "AEWindow",
    "Anchor",
    "Arm",
    "Assumption",
    "Biomarker",
    "Censoring",
    "Criterion",
    "DLTRule",
    "DLTSpec",
    "DayRange",
    "Design",
    "DonorSpec",
    "Dose",
    "DoseEscalation",
    "DoseLevel",
    "Eligibility",
    "Endpoint",
    "FollowUp",
    "Intervention",
    "Protocol",
    "Randomization",
    "Reference",
    "Repeat",
    "ResponseCriteria",
    "Safety",
    "Schedule",
    "ScheduleEvent",
    "Site",
    "builtin_protocols",
    "line_of",
    "load_protocol",
    "parse_protocol",
    "vocabulary",
    "yaml_path",
]
