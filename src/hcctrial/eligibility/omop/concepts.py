"""The mapping from the patient vocabulary to OMOP CDM v5.4 concepts.

The compiled query never hard-codes ``concept_id`` values (they differ between Athena releases
and local vocabularies): it joins each clinical table to ``concept`` and matches
``(vocabulary_id, concept_code)`` against :func:`concept_map`:

========== ============================================================ =======================
domain     codes                                                        OMOP tables read
========== ============================================================ =======================
lab        LOINC codes of :data:`~hcctrial.eligibility.codes.LOINC_TO_LAB`; ``measurement``
           local ``HCCTRIAL`` codes = SDTM LBTESTCD (PTPROL, INKTPBMC)
finding    LOINC codes of :data:`~hcctrial.eligibility.codes.LOINC_TO_FINDING`   ``observation``,
           (ECOG 89247-1, KPS 89243-0, weight 29463-7 ...); ``HCCTRIAL``   ``measurement``
           codes = vocabulary names (``bclc_stage``, ``gpc3_ihc`` ...)
condition  SNOMED CT codes of                                           ``condition_occurrence``
           :data:`~hcctrial.eligibility.codes.SNOMED_TO_CONDITION`;
           ``HCCTRIAL`` codes = condition and event names
category   ``HCCTRIAL`` codes = therapy categories (``targeted_therapy``  ``drug_exposure``,
           ...); sites add their RxNorm/SNOMED/ICD-10-PCS codes with   ``procedure_occurrence``
           ``extra`` rows
========== ============================================================ =======================

``HCCTRIAL`` is a site-local vocabulary: by OMOP convention local concepts take
``concept_id`` values above 2,000,000,000 (OHDSI, *The Book of OHDSI*, chapter 5.5 "custom
concepts"). Units are read from the ``concept`` row of ``unit_concept_id`` (vocabulary
``UCUM``, e.g. ``10*9/L``, ``mg/dL``) and converted with :mod:`hcctrial.clinical.units`.
Gender: OMOP concepts 8507 (MALE) and 8532 (FEMALE) of the Gender vocabulary.

Value conventions for findings: numbers in ``value_as_number``; true/false as 1/0 in
``value_as_number``; texts (``bclc_stage`` "C", ``gpc3_ihc`` "positive") in ``value_as_string``.
"""

from __future__ import annotations

import polars as pl

from hcctrial.eligibility.codes import LOINC_TO_FINDING, LOINC_TO_LAB, SNOMED_TO_CONDITION
from hcctrial.eligibility.lookup import EVENT_CATEGORIES

__all__ = ["GENDER_FEMALE", "GENDER_MALE", "LOCAL_VOCABULARY", "concept_map", "finding_names"]

GENDER_MALE = 8507  # OMOP Gender vocabulary, concept MALE
GENDER_FEMALE = 8532  # OMOP Gender vocabulary, concept FEMALE
LOCAL_VOCABULARY = "HCCTRIAL"
# record fields that are findings in OMOP but not vocabulary names
_EXTRA_FINDINGS = ("weight_kg", "height_cm", "ascites", "encephalopathy")


def finding_names() -> list[str]:
    """Vocabulary names read from OMOP findings (every name except age and sex), plus extras."""
    from hcctrial.protocol.vocabulary import NAMES

    return [n for n in NAMES if n not in ("age", "sex")] + list(_EXTRA_FINDINGS)


def concept_map(extra: pl.DataFrame | None = None) -> pl.DataFrame:
    """The concept map: ``vocabulary_id, concept_code, domain, item`` (one row per code).

    Parameters
    ----------
    extra : site-specific rows with the same columns (e.g. the RxNorm codes of sorafenib as
        ``category`` ``targeted_therapy``), appended to the defaults.
    """
    from hcctrial.protocol.vocabulary import CATEGORIES, CONDITIONS, LAB_CODES

    rows: list[tuple[str, str, str, str]] = []
    rows += [("LOINC", code, "lab", lab) for code, lab in LOINC_TO_LAB.items()]
    rows += [(LOCAL_VOCABULARY, lab, "lab", lab) for lab in LAB_CODES]
    rows += [("LOINC", code, "finding", name) for code, name in LOINC_TO_FINDING.items()]
    rows += [(LOCAL_VOCABULARY, name, "finding", name) for name in finding_names()]
    rows += [("SNOMED", code, "condition", name) for code, name in SNOMED_TO_CONDITION.items()]
    names = sorted(set(CONDITIONS) | set(EVENT_CATEGORIES))
    rows += [(LOCAL_VOCABULARY, name, "condition", name) for name in names]
    rows += [(LOCAL_VOCABULARY, c, "category", c) for c in CATEGORIES]
    table = pl.DataFrame(
        rows, schema=["vocabulary_id", "concept_code", "domain", "item"], orient="row"
    )
    if extra is not None:
        table = pl.concat([table, extra.select(table.columns)])
    return table.unique(
        subset=["vocabulary_id", "concept_code", "domain"], keep="first", maintain_order=True
    )
