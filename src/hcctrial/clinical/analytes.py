"""The analyte table: SDTM lab test codes, their canonical units and conversion constants.

One row per SDTM ``LBTESTCD`` (CDISC Controlled Terminology, codelist C65047) that hcctrial
reads. Each row gives the canonical unit every engine works in (mostly SI, as the seed trials'
thresholds are written), and the constants that link units of different dimensions for that
analyte: the molar mass (mass <-> substance concentration), the charge number (mEq <-> mmol),
and the few assay-defined factors between international units and mass or copies. Every
constant names its source beside it. Conversions themselves live in :mod:`hcctrial.clinical.units`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AFP_NG_PER_IU", "ANALYTES", "HBV_DNA_COPIES_PER_IU", "Analyte", "get_analyte"]

# HBV DNA: copies per WHO international unit. The WHO International Standard 97/746 defined the
# IU (Saldanha et al., Vox Sang 2001;80:63-71); the copies/IU factor depends on the assay. We use
# 5.82 copies/IU, the Roche COBAS TaqMan HBV factor quoted in the JSH Guidelines for the
# Management of Hepatitis B Virus Infection (Hepatol Res 2014;44 Suppl 1, Table 10), which also
# quotes 3.41 for the Abbott RealTime assay. ASSUMPTION: results given in copies/mL come from a
# Roche-calibrated assay; thresholds in the seed trials are in IU/mL, so this only matters when a
# site reports copies/mL.
HBV_DNA_COPIES_PER_IU = 5.82

# Alpha-fetoprotein: 1 IU = 1.21 ng, the WHO First International Standard for AFP 72/225
# (Sizaret P et al., J Biol Stand 1975: the WHO collaborative study). Many labs report AFP in
# kU/L = IU/mL.
AFP_NG_PER_IU = 1.21


@dataclass(frozen=True)
class Analyte:
    """One lab analyte.

    Attributes
    ----------
    code : SDTM LBTESTCD.
    name : the test name a clinician reads (CDISC LBTEST where there is one).
    canonical_unit : the unit every engine uses for this analyte (normalised spelling).
    molar_mass : g/mol, when mass and substance concentrations are both in use.
    valence : charge number, when results come in mEq/L.
    units_u_are : ``"enzyme"`` when 'U' and 'IU' mean the enzyme unit (1 umol/min, IUB 1964),
        ``"international"`` when they are WHO international units (AFP, HBV DNA), else ``""``.
    copies_per_iu, ng_per_iu : assay-defined factors linking IU to copies or to mass.
    only_units : for dimensionless analytes, the only unit spellings accepted (a ratio must not
        be confused with a percent).
    source : where the constants come from.
    """

    code: str
    name: str
    canonical_unit: str
    molar_mass: float | None = None
    valence: int | None = None
    units_u_are: str = ""
    copies_per_iu: float | None = None
    ng_per_iu: float | None = None
    only_units: tuple[str, ...] = ()
    source: str = ""


_PUBCHEM = "molar mass from PubChem"

ANALYTES: dict[str, Analyte] = {
    a.code: a
    for a in (
        # --- haematology: cell counts, canonical 10^9/L (= 10^3/uL = G/L; 1/uL = 10^-3 x 10^9/L)
        Analyte("WBC", "Leukocytes", "10^9/L", source="count concentration, SI (ICSH)"),
        Analyte("NEUT", "Neutrophils", "10^9/L", source="count concentration, SI (ICSH)"),
        Analyte("LYM", "Lymphocytes", "10^9/L", source="count concentration, SI (ICSH)"),
        Analyte("MONO", "Monocytes", "10^9/L", source="count concentration, SI (ICSH)"),
        Analyte("EOS", "Eosinophils", "10^9/L", source="count concentration, SI (ICSH)"),
        Analyte("PLT", "Platelets", "10^9/L", source="count concentration, SI (ICSH)"),
        Analyte("RBC", "Erythrocytes", "10^12/L", source="count concentration, SI (ICSH)"),
        Analyte(
            "HGB",
            "Hemoglobin",
            "g/L",
            # Hb monomer (one haem) 16 114.5 g/mol, so 1 g/dL = 0.6206 mmol/L, the Dutch
            # convention (ICSH reference method for haemoglobinometry, 1995 edition, J Clin Pathol
            # 1996;49:271-274, which states the monomer molar mass 16 114.5 g/mol).
            molar_mass=16114.5,
            source="Hb(Fe) monomer 16 114.5 g/mol (ICSH haemoglobinometry, J Clin Pathol 1996)",
        ),
        Analyte(
            "INKTPBMC",
            "iNKT cells as percent of PBMC",
            "%",
            only_units=("%",),
            source="share of peripheral blood mononuclear cells (seed trial NCT04011033)",
        ),
        # --- liver function
        Analyte(
            "BILI",
            "Bilirubin",
            "umol/L",
            molar_mass=584.66,  # C33H36N4O6, PubChem CID 5280352: 1 mg/dL = 17.10 umol/L
            source=_PUBCHEM + " CID 5280352 (C33H36N4O6, 584.66 g/mol)",
        ),
        Analyte(
            "BILDIR",
            "Direct Bilirubin",
            "umol/L",
            molar_mass=584.66,  # conjugated bilirubin is reported as bilirubin equivalents
            source=_PUBCHEM + " CID 5280352 (reported as bilirubin equivalents)",
        ),
        Analyte("ALB", "Albumin", "g/L", source="mass concentration, SI"),
        Analyte("PROT", "Protein", "g/L", source="mass concentration, SI"),
        Analyte("ALT", "Alanine Aminotransferase", "U/L", units_u_are="enzyme", source="IUB 1964"),
        Analyte("AST", "Aspartate Aminotransferase", "U/L", units_u_are="enzyme", source="IUB"),
        Analyte("ALP", "Alkaline Phosphatase", "U/L", units_u_are="enzyme", source="IUB 1964"),
        Analyte("GGT", "Gamma Glutamyl Transferase", "U/L", units_u_are="enzyme", source="IUB"),
        Analyte("LDH", "Lactate Dehydrogenase", "U/L", units_u_are="enzyme", source="IUB 1964"),
        Analyte("CK", "Creatine Kinase", "U/L", units_u_are="enzyme", source="IUB 1964"),
        Analyte("LIPASE", "Lipase", "U/L", units_u_are="enzyme", source="IUB 1964"),
        Analyte("AMYLASE", "Amylase", "U/L", units_u_are="enzyme", source="IUB 1964"),
        # --- coagulation
        Analyte("INR", "Prothrombin Intl. Normalized Ratio", "ratio", only_units=("ratio",)),
        Analyte("PT", "Prothrombin Time", "s", source="seconds"),
        Analyte("PTPROL", "Prothrombin Time prolongation over control", "s", source="seconds"),
        Analyte("APTT", "Activated Partial Thromboplastin Time", "s", source="seconds"),
        Analyte("FIBRINO", "Fibrinogen", "g/L", source="mass concentration, SI"),
        # --- renal and electrolytes
        Analyte(
            "CREAT",
            "Creatinine",
            "umol/L",
            molar_mass=113.12,  # C4H7N3O, PubChem CID 588: 1 mg/dL = 88.40 umol/L
            source=_PUBCHEM + " CID 588 (C4H7N3O, 113.12 g/mol)",
        ),
        Analyte(
            "UREA",
            "Urea",
            "mmol/L",
            molar_mass=60.06,  # CH4N2O, PubChem CID 1176
            source=_PUBCHEM + " CID 1176 (CH4N2O, 60.06 g/mol)",
        ),
        Analyte(
            "BUN",
            "Blood Urea Nitrogen",
            "mmol/L",
            # urea nitrogen: 2 N per urea, 2 x 14.007 = 28.014 g/mol, so 1 mg/dL BUN = 0.357 mmol/L
            molar_mass=28.014,
            source="2 x N 14.007 g/mol (IUPAC): urea nitrogen 28.014 g per mol of urea",
        ),
        Analyte(
            "SODIUM", "Sodium", "mmol/L", molar_mass=22.990, valence=1, source="IUPAC Na 22.990"
        ),
        Analyte("K", "Potassium", "mmol/L", molar_mass=39.098, valence=1, source="IUPAC K 39.098"),
        Analyte("CL", "Chloride", "mmol/L", molar_mass=35.45, valence=1, source="IUPAC Cl 35.45"),
        Analyte(
            "CA",
            "Calcium",
            "mmol/L",
            molar_mass=40.08,  # IUPAC standard atomic weight 40.078: 1 mmol/L = 4.008 mg/dL
            valence=2,
            source="IUPAC Ca 40.08 g/mol; divalent (1 mmol = 2 mEq)",
        ),
        Analyte(
            "MG",
            "Magnesium",
            "mmol/L",
            molar_mass=24.305,  # IUPAC conventional atomic weight: 1 mmol/L = 2.431 mg/dL
            valence=2,
            source="IUPAC Mg 24.305 g/mol; divalent (1 mmol = 2 mEq)",
        ),
        Analyte(
            "PHOS",
            "Phosphate",
            "mmol/L",
            molar_mass=30.974,  # reported as phosphorus: 1 mmol/L = 3.097 mg/dL
            source="IUPAC P 30.974 g/mol (inorganic phosphate reported as phosphorus)",
        ),
        Analyte(
            "URATE",
            "Urate",
            "umol/L",
            molar_mass=168.11,  # uric acid C5H4N4O3, PubChem CID 1175: 1 mg/dL = 59.48 umol/L
            source=_PUBCHEM + " CID 1175 (C5H4N4O3, 168.11 g/mol)",
        ),
        # --- metabolic
        Analyte(
            "GLUC",
            "Glucose",
            "mmol/L",
            molar_mass=180.16,  # C6H12O6, PubChem CID 5793: 1 mmol/L = 18.016 mg/dL
            source=_PUBCHEM + " CID 5793 (C6H12O6, 180.16 g/mol)",
        ),
        Analyte(
            "HBA1C",
            "Hemoglobin A1C",
            "%",
            # NGSP % <-> IFCC mmol/mol by the master equation NGSP = 0.09148 IFCC + 2.152
            # (Hoelzel W et al., Clin Chem 2004;50:166-174; www.ngsp.org/ifccngsp.asp)
            only_units=("%", "mmol/mol"),
            source="NGSP-IFCC master equation (Hoelzel, Clin Chem 2004)",
        ),
        Analyte(
            "CHOL",
            "Cholesterol",
            "mmol/L",
            molar_mass=386.65,  # C27H46O, PubChem CID 5997: 1 mmol/L = 38.67 mg/dL
            source=_PUBCHEM + " CID 5997 (C27H46O, 386.65 g/mol)",
        ),
        Analyte(
            "TRIG",
            "Triglycerides",
            "mmol/L",
            molar_mass=885.7,  # as triolein, the laboratory convention: 1 mmol/L = 88.57 mg/dL
            source="triolein 885.7 g/mol (laboratory convention, 1 mmol/L = 88.57 mg/dL)",
        ),
        # --- inflammation (CRS work-up)
        Analyte("CRP", "C Reactive Protein", "mg/L", source="mass concentration"),
        Analyte("FERRITIN", "Ferritin", "ug/L", source="mass concentration (ug/L = ng/mL)"),
        Analyte("IL6", "Interleukin 6", "ng/L", source="mass concentration (ng/L = pg/mL)"),
        # --- tumour markers and virology
        Analyte(
            "AFP",
            "Alpha Fetoprotein",
            "ng/mL",
            units_u_are="international",
            ng_per_iu=AFP_NG_PER_IU,
            source="WHO 1st IS for AFP 72/225: 1 IU = 1.21 ng (Sizaret, J Biol Stand 1975)",
        ),
        Analyte(
            "HBVDNA",
            "Hepatitis B Virus DNA",
            "IU/mL",
            units_u_are="international",
            copies_per_iu=HBV_DNA_COPIES_PER_IU,
            source=(
                "WHO IS 97/746 (Saldanha, Vox Sang 2001); 5.82 copies/IU for Roche COBAS TaqMan "
                "(JSH HBV guideline, Hepatol Res 2014, Table 10); ASSUMPTION, assay-dependent"
            ),
        ),
    )
}


def get_analyte(code: str) -> Analyte:
    """The analyte for an SDTM ``LBTESTCD`` (case-insensitive); :class:`UnitError` if unknown."""
    from hcctrial.errors import UnitError

    key = str(code).strip().upper()
    try:
        return ANALYTES[key]
    except KeyError:
        raise UnitError(
            "unknown lab test code",
            column="LBTESTCD",
            value=code,
            expected="one of " + ", ".join(sorted(ANALYTES)),
        ) from None
