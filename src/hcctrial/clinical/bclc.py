"""Barcelona Clinic Liver Cancer (BCLC) stage, 2022 update.

Reference: Reig M, Forner A, Rimola J, et al. BCLC strategy for prognosis prediction and
treatment recommendation: The 2022 update. J Hepatol 2022;76:681-693, Figure 1:

=====  ==============  ===============================================  ==================  ====
stage  name            tumour burden                                    liver function      ECOG
=====  ==============  ===============================================  ==================  ====
0      very early      single <= 2 cm                                   preserved           0
A      early           single, or 2-3 nodules each <= 3 cm              preserved           0
B      intermediate    multinodular (beyond A), no vascular invasion    preserved           0
C      advanced        portal invasion and/or extrahepatic spread       preserved           1-2
D      terminal        any                                              end-stage           3-4
=====  ==============  ===============================================  ==================  ====

Precedence, as the figure reads: end-stage liver function or ECOG 3-4 -> D; otherwise vascular
invasion or extrahepatic spread -> C; otherwise ECOG 1-2 (cancer-related symptoms) -> C;
otherwise (ECOG 0) the tumour burden decides 0, A or B.

Liver function: the 2022 update speaks of 'preserved' vs 'end-stage' liver function rather than
Child-Pugh classes alone. When only a Child-Pugh class is given: A -> preserved, C -> end-stage;
Child-Pugh B is left to the clinician by the update (some B patients are treated as preserved),
so it needs an explicit ``liver_function``; hcctrial does not guess it. ALBI grade refines
prognosis within a stage and does not change it; it is reported, not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hcctrial.clinical._check import category, category_expr, col, number, strict
from hcctrial.errors import InputError

__all__ = ["BCLC_NAMES", "BclcStage", "bclc_stage", "bclc_stage_expr"]

BCLC_NAMES = {
    "0": "very early",
    "A": "early",
    "B": "intermediate",
    "C": "advanced",
    "D": "terminal",
}
_LIVER = {
    "preserved": "preserved",
    "end-stage": "end-stage",
    "endstage": "end-stage",
    "end": "end-stage",
}
_CHILD_PUGH_TO_LIVER = {"a": "preserved", "c": "end-stage"}


@dataclass(frozen=True)
class BclcStage:
    """A BCLC stage (``"0"``, ``"A"``..``"D"``), its name and why."""

    stage: str
    name: str
    reason: str


def _liver_function(liver_function: str | None, child_pugh_class: str | None) -> tuple[str, str]:
    if liver_function is not None:
        lf = str(category("liver function", liver_function, _LIVER))
        return lf, f"liver function {lf} (given)"
    if child_pugh_class is None:
        raise InputError(
            "BCLC stage needs liver function",
            expected="liver_function preserved|end-stage, or child_pugh_class A|B|C",
        )
    cp = str(child_pugh_class).strip().upper()
    if cp not in ("A", "B", "C"):
        raise InputError("unknown Child-Pugh class", value=child_pugh_class, expected="A, B or C")
    if cp == "B":
        raise InputError(
            "Child-Pugh B does not decide BCLC liver function (Reig 2022 leaves it to the "
            "clinician); give liver_function preserved or end-stage",
            value=child_pugh_class,
            expected="liver_function preserved|end-stage",
        )
    lf = _CHILD_PUGH_TO_LIVER[cp.lower()]
    return lf, f"Child-Pugh {cp} -> liver function {lf}"


def bclc_stage(
    n_nodules: int,
    largest_nodule_cm: float,
    vascular_invasion: bool,
    extrahepatic_spread: bool,
    ecog: int,
    *,
    liver_function: str | None = None,
    child_pugh_class: str | None = None,
    albi_grade: str | None = None,
    infiltrative: bool = False,
) -> BclcStage:
    """BCLC stage (2022 update, Reig et al. J Hepatol 2022;76:681-693).

    Parameters
    ----------
    n_nodules : number of HCC nodules (>= 1).
    largest_nodule_cm : diameter of the largest nodule, cm.
    vascular_invasion : macrovascular (portal) invasion.
    extrahepatic_spread : extrahepatic metastasis (nodes or distant).
    ecog : ECOG performance status 0-4 (cancer-related).
    liver_function : ``"preserved"`` or ``"end-stage"``; or give ``child_pugh_class``.
    child_pugh_class : A -> preserved, C -> end-stage, B needs ``liver_function``.
    albi_grade : reported in the reason only.
    infiltrative : diffuse/infiltrative tumour (counts as beyond stage A).

    Examples
    --------
    Single 1.8 cm nodule, ECOG 0, Child-Pugh A -> 0. Three nodules, largest 2.5 cm -> A.
    Four nodules -> B. Portal vein invasion -> C. ECOG 3 -> D.
    """
    n = number("number of nodules", n_nodules, low=1, high=1000)
    if n != round(n):
        raise InputError("number of nodules is not whole", value=n_nodules, expected=">= 1")
    size = number("largest nodule", largest_nodule_cm, unit="cm", low=0, low_open=True, high=50)
    ps = number("ECOG performance status", ecog, low=0, high=4)
    if ps != round(ps):
        raise InputError("ECOG performance status is not whole", value=ecog, expected="0..4")
    for name, flag in (
        ("vascular_invasion", vascular_invasion),
        ("extrahepatic_spread", extrahepatic_spread),
        ("infiltrative", infiltrative),
    ):
        if not isinstance(flag, bool):
            raise InputError(f"{name} is not true/false", value=flag, expected="True or False")
    if ps >= 3 and liver_function is None and str(child_pugh_class).strip().upper() == "B":
        lf, lf_reason = "unknown", "Child-Pugh B (liver function not needed: ECOG 3-4)"
    else:
        lf, lf_reason = _liver_function(liver_function, child_pugh_class)
    albi_note = f"; ALBI grade {albi_grade} (prognostic within stage)" if albi_grade else ""

    def result(stage: str, why: str) -> BclcStage:
        return BclcStage(stage, BCLC_NAMES[stage], f"{why}; {lf_reason}{albi_note}")

    if lf == "end-stage" or ps >= 3:
        why = "end-stage liver function" if lf == "end-stage" else f"ECOG {int(ps)} (3-4)"
        within_milan = (
            not vascular_invasion
            and not extrahepatic_spread
            and ((n == 1 and size <= 5) or (n <= 3 and size <= 3))
        )
        if lf == "end-stage" and within_milan:
            why += " (within Milan criteria: evaluate for liver transplantation, Reig 2022)"
        return result("D", why)
    if vascular_invasion or extrahepatic_spread:
        parts = [
            p
            for p, f in (
                ("vascular invasion", vascular_invasion),
                ("extrahepatic spread", extrahepatic_spread),
            )
            if f
        ]
        return result("C", " and ".join(parts))
    if ps >= 1:
        return result("C", f"ECOG {int(ps)} (cancer-related symptoms, 1-2)")
    if not infiltrative and n == 1 and size <= 2:
        return result("0", f"single nodule {size:g} cm (<= 2 cm), ECOG 0")
    if not infiltrative and (n == 1 or (n <= 3 and size <= 3)):
        what = f"single nodule {size:g} cm" if n == 1 else f"{int(n)} nodules, largest {size:g} cm"
        return result("A", what + " (single, or <= 3 nodules each <= 3 cm), ECOG 0")
    what = "infiltrative tumour" if infiltrative else f"{int(n)} nodules, largest {size:g} cm"
    return result("B", what + " (multinodular beyond A), ECOG 0")


def bclc_stage_expr(
    n_nodules: str | pl.Expr,
    largest_nodule_cm: str | pl.Expr,
    vascular_invasion: str | pl.Expr,
    extrahepatic_spread: str | pl.Expr,
    ecog: str | pl.Expr,
    liver_function: str | pl.Expr | None = None,
    child_pugh_class: str | pl.Expr | None = None,
) -> pl.Expr:
    """Vectorised :func:`bclc_stage` (the stage letter as a String column); null when an input
    that decides the stage is missing. Child-Pugh B without an explicit liver function, unknown
    categories and out-of-range values raise when evaluated. Missing inputs are three-valued:
    ECOG 3 gives D whatever else is missing; vascular invasion known true gives C (if D is
    excluded) even when the nodule count is missing."""
    n = col(n_nodules).cast(pl.Float64)
    size = col(largest_nodule_cm).cast(pl.Float64)
    vi = col(vascular_invasion).cast(pl.Boolean)
    ehs = col(extrahepatic_spread).cast(pl.Boolean)
    ps = col(ecog).cast(pl.Float64)
    explicit = (
        category_expr(col(liver_function), _LIVER, pl.String)
        if liver_function is not None
        else pl.lit(None, dtype=pl.String)
    )
    cp = (
        col(child_pugh_class).cast(pl.String).str.strip_chars().str.to_uppercase()
        if child_pugh_class is not None
        else pl.lit(None, dtype=pl.String)
    )
    from_cp = pl.when(cp == "A").then(pl.lit("preserved")).when(cp == "C").then(pl.lit("end-stage"))
    lf = pl.coalesce(explicit, from_cp)
    terminal = ((lf == "end-stage") | (ps >= 3)).fill_null(False)
    spread = (vi | ehs).fill_null(False)  # true as soon as either is known true
    stage = (
        pl.when(terminal)
        .then(pl.lit("D"))
        .when(lf.is_null() | ps.is_null())
        .then(pl.lit(None, dtype=pl.String))  # D not excluded: unknown
        .when(spread)
        .then(pl.lit("C"))
        .when(vi.is_null() | ehs.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(ps >= 1)
        .then(pl.lit("C"))
        .when(n.is_null() | size.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when((n == 1) & (size <= 2))
        .then(pl.lit("0"))
        .when((n == 1) | ((n <= 3) & (size <= 3)))
        .then(pl.lit("A"))
        .otherwise(pl.lit("B"))
    )
    checks = [
        ((n < 1) | (n != n.round(0)), "number of nodules not a whole number >= 1", ">= 1"),
        ((size <= 0) | (size > 50), "largest nodule out of range", "> 0 and <= 50 cm"),
        ((ps < 0) | (ps > 4) | (ps != ps.round(0)), "ECOG not in 0..4", "0..4"),
        (
            explicit.is_null() & (cp == "B") & (ps < 3).fill_null(True),
            "Child-Pugh B without liver function (Reig 2022 leaves it to the clinician)",
            "liver function preserved|end-stage",
        ),
        (
            explicit.is_null()
            & (col(liver_function).is_not_null() if liver_function is not None else pl.lit(False)),
            "unknown liver function",
            "preserved|end-stage",
        ),
        (cp.is_not_null() & ~cp.is_in(["A", "B", "C"]), "unknown Child-Pugh class", "A|B|C"),
    ]
    return strict(stage.alias("BCLC_STAGE"), checks, pl.String)
