"""Response criteria as data: RECIST 1.1 and mRECIST thresholds, each with its source.

References
----------
.. [RECIST] Eisenhauer EA, Therasse P, Bogaerts J, et al. New response evaluation criteria in
   solid tumours: revised RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247.
.. [mRECIST] Lencioni R, Llovet JM. Modified RECIST (mRECIST) assessment for hepatocellular
   carcinoma. Semin Liver Dis 2010;30(1):52-60.

The two criteria share the timepoint logic (target, non-target, new lesions, overall response
tables); they differ in which diameter is measured and in the HCC-specific rules listed on
:data:`MRECIST`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hcctrial.errors import InputError

__all__ = [
    "MRECIST",
    "OVERALL_RESPONSE_NON_TARGET_ONLY",
    "OVERALL_RESPONSE_TARGET",
    "RECIST11",
    "Criteria",
    "get_criteria",
]


@dataclass(frozen=True)
class Criteria:
    """Thresholds and measurement rules of one set of response criteria.

    Attributes
    ----------
    name : str
        ``"recist1.1"`` or ``"mrecist"``.
    diameter_tests_nodal, diameter_tests_non_nodal : tuple of str
        TRTESTCD values that hold the diameter to sum, in order of preference. ``DIAMETER`` is
        the pharmaversesdtm code for "the diameter the criteria ask for" and comes first.
    viable_test : str or None
        TRTESTCD of the viable (arterially enhancing) diameter; mRECIST only.
    pr_decrease_pct : float
        Partial response: decrease of the sum from the baseline sum, at least this many percent.
    pd_increase_pct, pd_increase_abs_mm : float
        Progression: increase of the sum over the nadir of at least this many percent and at
        least this many millimetres.
    measurable_non_nodal_mm, measurable_nodal_short_axis_mm, nodal_normal_mm : float
        Baseline measurability of non-nodal lesions (longest diameter), of lymph nodes (short
        axis), and the short axis below which a node is normal (CR for nodes).
    max_targets, max_targets_per_organ : int
        Baseline target lesion limits.
    """

    name: str
    diameter_tests_nodal: tuple[str, ...]
    diameter_tests_non_nodal: tuple[str, ...]
    viable_test: str | None
    pr_decrease_pct: float
    pd_increase_pct: float
    pd_increase_abs_mm: float
    measurable_non_nodal_mm: float
    measurable_nodal_short_axis_mm: float
    nodal_normal_mm: float
    max_targets: int
    max_targets_per_organ: int
    # mRECIST-only HCC rules (None / False under RECIST 1.1)
    new_liver_lesion_min_mm: float | None = None
    new_liver_lesion_growth_mm: float | None = None
    porta_hepatis_node_min_mm: float | None = None
    portal_vein_thrombosis_non_measurable: bool = False
    effusion_needs_cytology: bool = False


RECIST11 = Criteria(
    name="recist1.1",
    # [RECIST] section 3.1.1: a node is measured by its short axis, the diameter perpendicular
    # to its longest diameter in the axial plane (SDTM SAXIS; LPERP where only that is given).
    diameter_tests_nodal=("DIAMETER", "SAXIS", "LPERP"),
    diameter_tests_non_nodal=("DIAMETER", "LDIAM"),
    viable_test=None,
    # [RECIST] section 4.3.1 (target lesions), p. 233: PR at least a 30% decrease in the sum
    # of diameters taking as reference the baseline sum.
    pr_decrease_pct=30.0,
    # [RECIST] section 4.3.1: PD at least a 20% increase in the sum taking as reference the
    # smallest sum on study (including baseline) and an absolute increase of at least 5 mm.
    pd_increase_pct=20.0,
    pd_increase_abs_mm=5.0,
    # [RECIST] section 3.1.1 (measurable disease), p. 230: non-nodal >= 10 mm by CT; malignant
    # lymph node >= 15 mm in short axis; nodes 10 to < 15 mm pathological but non-measurable;
    # < 10 mm non-pathological.
    measurable_non_nodal_mm=10.0,
    measurable_nodal_short_axis_mm=15.0,
    nodal_normal_mm=10.0,
    # [RECIST] section 3.3.1 (target lesions), p. 231: a maximum of five lesions total and a
    # maximum of two lesions per organ.
    max_targets=5,
    max_targets_per_organ=2,
)

MRECIST = Criteria(
    name="mrecist",
    diameter_tests_nodal=("DIAMETER", "SAXIS", "LPERP"),
    diameter_tests_non_nodal=("DIAMETER", "LDIAM"),
    # [mRECIST] Table 1 / "Target lesion response": for intrahepatic target lesions the
    # longest diameter of the viable (enhancing in the arterial phase) tumour is measured.
    # hcctrial reads it from TRTESTCD = VIABLDIAM (documented in docs/readme/response.md).
    viable_test="VIABLDIAM",
    # [mRECIST] Table 1: PR at least a 30% decrease in the sum of diameters of viable target
    # lesions, taking as reference the baseline sum.
    pr_decrease_pct=30.0,
    # [mRECIST] Table 1: PD an increase of at least 20% in the sum of viable diameters over
    # the smallest sum recorded since treatment started. The paper states no absolute
    # minimum (RECIST 1.1's 5 mm is not part of mRECIST as published), so it is 0 here.
    pd_increase_pct=20.0,
    pd_increase_abs_mm=0.0,
    # [mRECIST] "Selection of target lesions": measurable per RECIST (>= 1 cm) and showing
    # intratumoral arterial enhancement; extrahepatic lesions are selected as in RECIST.
    measurable_non_nodal_mm=10.0,
    measurable_nodal_short_axis_mm=15.0,
    nodal_normal_mm=10.0,
    max_targets=5,
    max_targets_per_organ=2,
    # [mRECIST] "New lesions": a new liver nodule is HCC (hence PD) if its longest diameter is
    # at least 1 cm and it shows the typical vascular pattern (arterial hyperenhancement with
    # washout); an atypical nodule counts once it shows at least 1 cm interval growth.
    new_liver_lesion_min_mm=10.0,
    new_liver_lesion_growth_mm=10.0,
    # [mRECIST] "Lymph nodes": porta hepatis nodes are malignant only with short axis >= 2 cm
    # (reactive nodes are common in cirrhosis).
    porta_hepatis_node_min_mm=20.0,
    # [mRECIST] "Portal vein thrombosis": malignant PVT is a non-measurable lesion.
    portal_vein_thrombosis_non_measurable=True,
    # [mRECIST] "Pleural effusion and ascites": cytopathological confirmation of the neoplastic
    # nature of an effusion that appears or worsens is required to declare PD.
    effusion_needs_cytology=True,
)

_BY_NAME = {"recist1.1": RECIST11, "recist": RECIST11, "mrecist": MRECIST}


def get_criteria(criteria: str | Criteria) -> Criteria:
    """The :class:`Criteria` named ``criteria`` (``recist1.1`` or ``mrecist``)."""
    if isinstance(criteria, Criteria):
        return criteria
    found = _BY_NAME.get(str(criteria).strip().lower())
    if found is None:
        raise InputError(
            "unknown response criteria", value=criteria, expected="recist1.1 or mrecist"
        )
    return found


# [RECIST] Table 1, p. 239: time point response, patients with target (+/- non-target) disease.
# (target, non-target, new lesions) -> overall. "NON-PD" stands for NON-CR/NON-PD or absent;
# None stands for "not applicable" (no non-target disease at baseline).
OVERALL_RESPONSE_TARGET: tuple[tuple[str, str | None, str, str], ...] = (
    ("CR", "CR", "N", "CR"),
    ("CR", None, "N", "CR"),
    ("CR", "NON-CR/NON-PD", "N", "PR"),
    ("CR", "NE", "N", "PR"),
    ("PR", "NON-CR/NON-PD", "N", "PR"),
    ("PR", "NE", "N", "PR"),
    ("PR", "CR", "N", "PR"),
    ("PR", None, "N", "PR"),
    ("SD", "NON-CR/NON-PD", "N", "SD"),
    ("SD", "NE", "N", "SD"),
    ("SD", "CR", "N", "SD"),
    ("SD", None, "N", "SD"),
    ("NE", "NON-CR/NON-PD", "N", "NE"),
    ("NE", "CR", "N", "NE"),
    ("NE", None, "N", "NE"),
    ("PD", "CR", "N", "PD"),
    ("PD", "NON-CR/NON-PD", "Y", "PD"),
    ("CR", "PD", "N", "PD"),
    ("SD", "PD", "N", "PD"),
    ("CR", "CR", "Y", "PD"),
    ("NE", "NE", "Y", "PD"),
)

# [RECIST] Table 2, p. 239: time point response, patients with non-target disease only.
# (non-target, new lesions) -> overall.
OVERALL_RESPONSE_NON_TARGET_ONLY: tuple[tuple[str, str, str], ...] = (
    ("CR", "N", "CR"),
    ("NON-CR/NON-PD", "N", "NON-CR/NON-PD"),
    ("NE", "N", "NE"),
    ("PD", "N", "PD"),
    ("PD", "Y", "PD"),
    ("CR", "Y", "PD"),
    ("NON-CR/NON-PD", "Y", "PD"),
)
