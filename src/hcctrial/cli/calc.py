"""``hcctrial calc``: clinical calculators and lab unit conversion, each printing its formula."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hcctrial.cli._common import console

_JSON = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _show(lines: list[tuple[str, str]], payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(payload, default=str))
        return
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        console.print(f"{key.ljust(width)}  {value}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``calc`` command group to the main app."""
    group = typer.Typer(
        help="Clinical calculators (BSA, CrCl, Child-Pugh, ALBI, BCLC, ECOG/KPS, dose) and "
        "lab unit conversion.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="calc")

    @group.command("bsa")
    def bsa_cmd(
        height: Annotated[float, typer.Option("--height", help="Height, cm.")],
        weight: Annotated[float, typer.Option("--weight", help="Weight, kg.")],
        method: Annotated[str, typer.Option("--method", help="mosteller or dubois.")] = "mosteller",
        as_json: _JSON = False,
    ) -> None:
        """Body surface area (Mosteller 1987 or DuBois 1916), m2."""
        from hcctrial.clinical.body import bsa

        value = bsa(height, weight, method)
        formula = (
            f"sqrt({height:g} cm x {weight:g} kg / 3600)"
            if method.strip().lower() == "mosteller"
            else f"0.007184 x {weight:g} kg^0.425 x {height:g} cm^0.725"
        )
        ref = (
            "Mosteller RD, N Engl J Med 1987;317:1098"
            if method.strip().lower() == "mosteller"
            else "Du Bois D, Du Bois EF, Arch Intern Med 1916;17:863"
        )
        _show(
            [("BSA", f"{value:.3f} m2"), ("formula", formula), ("reference", ref)],
            {"bsa_m2": value, "method": method.lower(), "formula": formula, "reference": ref},
            as_json,
        )

    @group.command("crcl")
    def crcl_cmd(
        age: Annotated[float, typer.Option("--age", help="Age, years (adults).")],
        weight: Annotated[float, typer.Option("--weight", help="Actual body weight, kg.")],
        sex: Annotated[str, typer.Option("--sex", help="M or F.")],
        creatinine: Annotated[float, typer.Option("--creatinine", help="Serum creatinine.")],
        unit: Annotated[str, typer.Option("--unit", help="mg/dL or umol/L.")] = "mg/dL",
        as_json: _JSON = False,
    ) -> None:
        """Creatinine clearance by Cockcroft-Gault (Nephron 1976;16:31-41), mL/min."""
        from hcctrial.clinical.body import creatinine_clearance_cockcroft_gault, parse_sex
        from hcctrial.clinical.units import convert, normalise_unit

        value = creatinine_clearance_cockcroft_gault(age, weight, sex, creatinine, unit)
        scr = convert(creatinine, unit, "mg/dL", "CREAT")
        female = parse_sex(sex) == "F"
        formula = f"(140 - {age:g}) x {weight:g} kg / (72 x {scr:.4g} mg/dL)" + (
            " x 0.85 (female)" if female else ""
        )
        lines = [("CrCl", f"{value:.1f} mL/min"), ("formula", formula)]
        if normalise_unit(unit) != "mg/dL":
            lines.append(("creatinine", f"{creatinine:g} {unit} = {scr:.4g} mg/dL (x 1/88.40)"))
        _show(
            [
                *lines,
                ("reference", "Cockcroft DW, Gault MH, Nephron 1976;16:31-41"),
            ],
            {"crcl_ml_min": value, "creatinine_mg_dl": scr, "formula": formula},
            as_json,
        )

    @group.command("child-pugh")
    def child_pugh_cmd(
        bilirubin: Annotated[float, typer.Option("--bilirubin", help="Total bilirubin.")],
        albumin: Annotated[float, typer.Option("--albumin", help="Albumin.")],
        ascites: Annotated[str, typer.Option("--ascites", help="none | mild | moderate.")],
        encephalopathy: Annotated[
            str, typer.Option("--encephalopathy", help="none | grade1-2 | grade3-4.")
        ],
        inr: Annotated[float | None, typer.Option("--inr", help="INR.")] = None,
        pt_prolongation: Annotated[
            float | None,
            typer.Option("--pt-prolongation", help="PT prolongation over control, s (no INR)."),
        ] = None,
        bilirubin_unit: Annotated[
            str, typer.Option("--bilirubin-unit", help="umol/L or mg/dL.")
        ] = "umol/L",
        albumin_unit: Annotated[str, typer.Option("--albumin-unit", help="g/L or g/dL.")] = "g/L",
        as_json: _JSON = False,
    ) -> None:
        """Child-Pugh score and class (Pugh et al., Br J Surg 1973;60:646-649)."""
        from hcctrial.clinical.liver import child_pugh_from_units

        r = child_pugh_from_units(
            bilirubin,
            bilirubin_unit,
            albumin,
            albumin_unit,
            inr,
            ascites,
            encephalopathy,
            pt_prolongation_s=pt_prolongation,
        )
        coag = f"INR {inr:g}" if inr is not None else f"PT +{pt_prolongation:g} s"
        points = (
            f"bilirubin {bilirubin:g} {bilirubin_unit} -> {r.bilirubin_points}, "
            f"albumin {albumin:g} {albumin_unit} -> {r.albumin_points}, "
            f"{coag} -> {r.coagulation_points}, ascites {ascites} -> {r.ascites_points}, "
            f"encephalopathy {encephalopathy} -> {r.encephalopathy_points}"
        )
        _show(
            [
                ("Child-Pugh", f"{r.score} points, class {r.klass}"),
                ("points", points),
                ("classes", "A 5-6, B 7-9, C 10-15"),
                ("reference", "Pugh RNH et al., Br J Surg 1973;60:646-649"),
            ],
            {"score": r.score, "class": r.klass, "points": r.__dict__},
            as_json,
        )

    @group.command("albi")
    def albi_cmd(
        bilirubin: Annotated[float, typer.Option("--bilirubin", help="Total bilirubin.")],
        albumin: Annotated[float, typer.Option("--albumin", help="Albumin.")],
        bilirubin_unit: Annotated[
            str, typer.Option("--bilirubin-unit", help="umol/L or mg/dL.")
        ] = "umol/L",
        albumin_unit: Annotated[str, typer.Option("--albumin-unit", help="g/L or g/dL.")] = "g/L",
        modified: Annotated[
            bool, typer.Option("--modified", help="mALBI grades 2a/2b (Hiraoka 2017).")
        ] = False,
        as_json: _JSON = False,
    ) -> None:
        """ALBI score and grade (Johnson et al., J Clin Oncol 2015;33:550-558)."""
        from hcctrial.clinical.liver import albi
        from hcctrial.clinical.units import convert

        bili = convert(bilirubin, bilirubin_unit, "umol/L", "BILI")
        alb = convert(albumin, albumin_unit, "g/L", "ALB")
        r = albi(bili, alb, modified=modified)
        formula = f"0.66 x log10({bili:.4g} umol/L) - 0.085 x {alb:.4g} g/L"
        _show(
            [
                ("ALBI", f"{r.score:.3f}, grade {r.grade}"),
                ("formula", formula),
                ("grades", "1 <= -2.60 < 2 <= -1.39 < 3"),
                ("reference", "Johnson PJ et al., J Clin Oncol 2015;33:550-558"),
            ],
            {"score": r.score, "grade": r.grade, "formula": formula},
            as_json,
        )

    @group.command("bclc")
    def bclc_cmd(
        nodules: Annotated[int, typer.Option("--nodules", help="Number of HCC nodules.")],
        largest: Annotated[float, typer.Option("--largest-cm", help="Largest nodule, cm.")],
        ecog: Annotated[int, typer.Option("--ecog", help="ECOG performance status 0-4.")],
        vascular_invasion: Annotated[
            bool, typer.Option("--vascular-invasion/--no-vascular-invasion")
        ] = False,
        extrahepatic_spread: Annotated[
            bool, typer.Option("--extrahepatic-spread/--no-extrahepatic-spread")
        ] = False,
        liver_function: Annotated[
            str | None, typer.Option("--liver-function", help="preserved | end-stage.")
        ] = None,
        child_pugh_class: Annotated[
            str | None, typer.Option("--child-pugh-class", help="A | B | C.")
        ] = None,
        albi_grade: Annotated[str | None, typer.Option("--albi-grade", help="1 | 2 | 3.")] = None,
        infiltrative: Annotated[bool, typer.Option("--infiltrative")] = False,
        as_json: _JSON = False,
    ) -> None:
        """BCLC stage, 2022 update (Reig et al., J Hepatol 2022;76:681-693)."""
        from hcctrial.clinical.bclc import bclc_stage

        r = bclc_stage(
            nodules,
            largest,
            vascular_invasion,
            extrahepatic_spread,
            ecog,
            liver_function=liver_function,
            child_pugh_class=child_pugh_class,
            albi_grade=albi_grade,
            infiltrative=infiltrative,
        )
        _show(
            [
                ("BCLC", f"stage {r.stage} ({r.name})"),
                ("because", r.reason),
                ("reference", "Reig M et al., J Hepatol 2022;76:681-693, Figure 1"),
            ],
            {"stage": r.stage, "name": r.name, "reason": r.reason},
            as_json,
        )

    @group.command("ecog")
    def ecog_cmd(
        kps: Annotated[int, typer.Option("--kps", help="Karnofsky performance status.")],
        as_json: _JSON = False,
    ) -> None:
        """ECOG grade from a Karnofsky score (conventional table)."""
        from hcctrial.clinical.performance import ecog_from_kps

        value = ecog_from_kps(kps)
        _show(
            [
                ("ECOG", str(value)),
                (
                    "table",
                    "KPS 100-90 -> 0, 80-70 -> 1, 60-50 -> 2, 40-30 -> 3, 20-10 -> 4, 0 -> 5",
                ),
                ("reference", "Oken MM et al., Am J Clin Oncol 1982;5:649-655 (ECOG scale)"),
            ],
            {"ecog": value, "kps": kps},
            as_json,
        )

    @group.command("kps")
    def kps_cmd(
        ecog: Annotated[int, typer.Option("--ecog", help="ECOG performance status 0-5.")],
        as_json: _JSON = False,
    ) -> None:
        """Karnofsky range for an ECOG grade (conventional table)."""
        from hcctrial.clinical.performance import kps_range_from_ecog

        low, high = kps_range_from_ecog(ecog)
        _show(
            [("KPS", f"{low}-{high}" if low != high else str(low))],
            {"kps_low": low, "kps_high": high, "ecog": ecog},
            as_json,
        )

    @group.command("convert")
    def convert_cmd(
        value: Annotated[float, typer.Argument(help="The value.")],
        from_unit: Annotated[str, typer.Argument(help="Its unit, e.g. mg/dL.")],
        to_unit: Annotated[str, typer.Argument(help="The unit wanted, e.g. umol/L.")],
        analyte: Annotated[
            str | None, typer.Option("--analyte", help="SDTM LBTESTCD, e.g. BILI, CREAT, PLT.")
        ] = None,
        as_json: _JSON = False,
    ) -> None:
        """Convert a lab value between units (analyte-aware; pint underneath)."""
        from hcctrial.clinical.analytes import get_analyte
        from hcctrial.clinical.units import conversion

        conv = conversion(from_unit, to_unit, analyte)
        result = conv.apply(value)
        lines = [
            ("result", f"{result:.6g} {conv.to_unit}"),
            ("formula", conv.formula()),
        ]
        if analyte:
            meta = get_analyte(analyte)
            lines.append(("analyte", f"{meta.code} ({meta.name}), canonical {meta.canonical_unit}"))
            if meta.source:
                lines.append(("source", meta.source))
        _show(
            lines,
            {
                "value": result,
                "unit": conv.to_unit,
                "from": {"value": value, "unit": conv.from_unit},
                "analyte": conv.analyte,
                "formula": conv.formula(),
            },
            as_json,
        )

    @group.command("analytes")
    def analytes_cmd(
        codes: Annotated[
            list[str] | None, typer.Argument(help="LBTESTCD codes to show (default: all).")
        ] = None,
        as_json: _JSON = False,
    ) -> None:
        """The lab analytes hcctrial knows: canonical unit, conversion constants, sources."""
        from hcctrial.clinical.analytes import ANALYTES, get_analyte

        chosen = [get_analyte(c) for c in codes] if codes else list(ANALYTES.values())
        if as_json:
            console.print_json(json.dumps([a.__dict__ for a in chosen], default=str))
            return
        for a in chosen:
            extra = []
            if a.molar_mass is not None:
                extra.append(f"{a.molar_mass:g} g/mol")
            if a.valence is not None:
                extra.append(f"charge {a.valence}")
            if a.copies_per_iu is not None:
                extra.append(f"{a.copies_per_iu:g} copies/IU")
            if a.ng_per_iu is not None:
                extra.append(f"{a.ng_per_iu:g} ng/IU")
            console.print(
                f"{a.code:<9}{a.canonical_unit:<9}{a.name}"
                + (f"; {', '.join(extra)}" if extra else "")
                + (f"; source: {a.source}" if a.source else ""),
                highlight=False,
                soft_wrap=True,
            )

    @group.command("dose")
    def dose_cmd(
        dose: Annotated[float, typer.Option("--dose", help="Dose per basis unit, e.g. 5e8.")],
        basis: Annotated[
            str, typer.Option("--basis", help="cells/m2, cells/kg, cells, IU/kg/day, mg/m2 ...")
        ],
        protocol_free: Annotated[
            bool,
            typer.Option(
                "--protocol-free",
                help="The dose and basis are given here, not read from a protocol file.",
            ),
        ] = False,
        height: Annotated[float | None, typer.Option("--height", help="Height, cm.")] = None,
        weight: Annotated[float | None, typer.Option("--weight", help="Weight, kg.")] = None,
        method: Annotated[str, typer.Option("--method", help="BSA: mosteller | dubois.")] = (
            "mosteller"
        ),
        bsa_cap: Annotated[
            float | None, typer.Option("--bsa-cap", help="Largest BSA to use, m2.")
        ] = None,
        round_to: Annotated[
            float | None, typer.Option("--round-to", help="Round to a multiple, e.g. 1e7.")
        ] = None,
        significant: Annotated[
            int | None, typer.Option("--significant", help="Round to significant figures.")
        ] = None,
        cap: Annotated[float | None, typer.Option("--cap", help="Largest amount allowed.")] = None,
        as_json: _JSON = False,
    ) -> None:
        """Dose for cells/m2 (BSA), cells/kg, IU/kg/day or a flat dose, with rounding and a cap."""
        from hcctrial.clinical.dose import calculate_dose, format_amount

        del protocol_free  # the only mode of this command; kept so scripts state it explicitly
        d = calculate_dose(
            dose,
            basis,
            height_cm=height,
            weight_kg=weight,
            bsa_method=method,
            bsa_cap_m2=bsa_cap,
            round_to=round_to,
            significant=significant,
            cap=cap,
        )
        lines = [("dose", f"{format_amount(d.amount)} {d.unit}"), ("formula", d.formula)]
        if d.bsa_m2 is not None:
            lines.append(("BSA", f"{d.bsa_m2:.3f} m2 ({d.bsa_method})"))
        _show(lines, dict(d.__dict__), as_json)
