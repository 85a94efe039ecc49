"""Code systems and code maps shared by the FHIR reader and the OMOP compiler.

One place for the mapping from the patient vocabulary to standard codes: LOINC for labs and
scored findings, SNOMED CT for conditions, and the local ``urn:hcctrial:*`` systems (OMOP
vocabulary ``HCCTRIAL``) for the items that have no standard code.
"""

from __future__ import annotations

__all__ = [
    "CATEGORY_SYSTEM",
    "HCCTRIAL_SYSTEM",
    "LBTESTCD_SYSTEM",
    "LOINC",
    "LOINC_TO_FINDING",
    "LOINC_TO_LAB",
    "SNOMED",
    "SNOMED_TO_CONDITION",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
HCCTRIAL_SYSTEM = "urn:hcctrial:vocabulary"
CATEGORY_SYSTEM = "urn:hcctrial:category"
LBTESTCD_SYSTEM = "urn:cdisc:sdtm:lbtestcd"

# LOINC codes (LOINC 2.7x, loinc.org; long common names abbreviated) -> SDTM LBTESTCD.
LOINC_TO_LAB: dict[str, str] = {
    "6690-2": "WBC",  # Leukocytes [#/volume] in Blood by Automated count
    "26464-8": "WBC",  # Leukocytes [#/volume] in Blood
    "777-3": "PLT",  # Platelets [#/volume] in Blood by Automated count
    "26515-7": "PLT",  # Platelets [#/volume] in Blood
    "718-7": "HGB",  # Hemoglobin [Mass/volume] in Blood
    "731-0": "LYM",  # Lymphocytes [#/volume] in Blood by Automated count
    "751-8": "NEUT",  # Neutrophils [#/volume] in Blood by Automated count
    "1751-7": "ALB",  # Albumin [Mass/volume] in Serum or Plasma
    "1975-2": "BILI",  # Bilirubin.total [Mass/volume] in Serum or Plasma
    "14631-6": "BILI",  # Bilirubin.total [Moles/volume] in Serum or Plasma
    "1742-6": "ALT",  # Alanine aminotransferase [Enzymatic activity/volume] in S/P
    "1920-8": "AST",  # Aspartate aminotransferase [Enzymatic activity/volume] in S/P
    "6768-6": "ALP",  # Alkaline phosphatase [Enzymatic activity/volume] in S/P
    "2324-2": "GGT",  # Gamma glutamyl transferase [Enzymatic activity/volume] in S/P
    "2160-0": "CREAT",  # Creatinine [Mass/volume] in Serum or Plasma
    "14682-9": "CREAT",  # Creatinine [Moles/volume] in Serum or Plasma
    "3040-3": "LIPASE",  # Lipase [Enzymatic activity/volume] in Serum or Plasma
    "1798-8": "AMYLASE",  # Amylase [Enzymatic activity/volume] in Serum or Plasma
    "6301-6": "INR",  # INR in Platelet poor plasma by Coagulation assay
    "5902-2": "PT",  # Prothrombin time (PT)
    "42595-9": "HBVDNA",  # Hepatitis B virus DNA [Units/volume] (viral load) in S/P by NAA
    "29615-2": "HBVDNA",  # Hepatitis B virus DNA [#/volume] (viral load) in S/P by NAA
    "4548-4": "HBA1C",  # Hemoglobin A1c/Hemoglobin.total in Blood
    "1834-1": "AFP",  # Alpha-1-Fetoprotein [Mass/volume] in Serum or Plasma
    "2951-2": "SODIUM",  # Sodium [Moles/volume] in Serum or Plasma
    "2823-3": "K",  # Potassium [Moles/volume] in Serum or Plasma
    "17861-6": "CA",  # Calcium [Mass/volume] in Serum or Plasma
    "2345-7": "GLUC",  # Glucose [Mass/volume] in Serum or Plasma
    "19123-9": "MG",  # Magnesium [Mass/volume] in Serum or Plasma
}
# LOINC codes -> record fields/findings (value kind in brackets).
LOINC_TO_FINDING: dict[str, str] = {
    "89247-1": "ecog",  # ECOG Performance Status score
    "89243-0": "kps",  # Karnofsky Performance Status score
    "29463-7": "weight_kg",  # Body weight
    "8302-2": "height_cm",  # Body height
    "10230-1": "lvef_percent",  # Left ventricular Ejection fraction
    "5196-1": "hbsag_positive",  # Hepatitis B virus surface Ag [Presence] in Serum
    "16933-4": "hbcab_positive",  # Hepatitis B virus core Ab [Presence] in Serum
    "16128-1": "hcv_ab_positive",  # Hepatitis C virus Ab [Presence] in Serum
    "7918-6": "hiv_positive",  # HIV 1+2 Ab [Presence] in Serum
}
# SNOMED CT concepts (International Edition; |fully specified name|) -> vocabulary conditions.
SNOMED_TO_CONDITION: dict[str, str] = {
    "13920009": "hepatic_encephalopathy",  # |Hepatic encephalopathy (disorder)|
    "86406008": "hiv",  # |Human immunodeficiency virus infection (disorder)|
    "13645005": "copd",  # |Chronic obstructive lung disease (disorder)|
    "233703007": "interstitial_lung_disease",  # |Interstitial lung disease (disorder)|
    "59282003": "pulmonary_embolism",  # |Pulmonary embolism (disorder)|
    "397825006": "gastric_ulcer",  # |Gastric ulcer (disorder)|
    "74474003": "gi_bleeding",  # |Gastrointestinal hemorrhage (disorder)|
    "22298006": "myocardial_infarction",  # |Myocardial infarction (disorder)|
    "4557003": "unstable_angina",  # |Preinfarction syndrome (disorder)| (unstable angina)
}
