"""Tumour response: RECIST 1.1 and mRECIST, timepoint response and best overall response.

Pipeline (tables in, tables out)::

    tp = derive_timepoint_response(tu, tr, criteria="recist1.1")   # RS, ADRS OVR, changes
    adrs = derive_best_overall_response(tp.adrs, reference_start, confirm_days=28,
                                        sd_min_days=42)           # + BOR, CBOR

References: Eisenhauer et al., Eur J Cancer 2009;45:228-247 (RECIST 1.1); Lencioni & Llovet,
Semin Liver Dis 2010;30:52-60 (mRECIST).
"""

from hcctrial.response.best import BestOverallResponse, derive_best_overall_response
from hcctrial.response.criteria import MRECIST, RECIST11, Criteria, get_criteria
from hcctrial.response.timepoint import TimepointResponse, derive_timepoint_response

__all__ = [
    "MRECIST",
    "RECIST11",
    "BestOverallResponse",
    "Criteria",
    "TimepointResponse",
    "derive_best_overall_response",
    "derive_timepoint_response",
    "get_criteria",
]
