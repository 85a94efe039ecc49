"""The data-entry pages: register (screen) a subject, any clinical record form (fields read from
the domain's pydantic form, messages beside each wrong field), state changes, queries, the
signature and the password change. Plain HTML forms with the CSRF field; the same services,
roles and audit as the JSON API. A refused action shows the subject page again with the
message (422); a done one goes back to it (303)."""

from __future__ import annotations

import json
from typing import Any, get_args

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hcctrial.errors import HcctrialError, InputError
from hcctrial.web import service
from hcctrial.web.api import SubjectBody
from hcctrial.web.auth import (
    MAX_FAILURES,
    Principal,
    change_password,
    failures_of,
    record_failed_attempt,
    verify_password,
)
from hcctrial.web.checks import FORMS, MAX_ID
from hcctrial.web.db import Site, Study, User, begin_write
from hcctrial.web.deps import (
    RowId,
    TransactionRoute,
    db_session,
    load_query,
    load_record,
    load_subject,
)
from hcctrial.web.derived import subject_calendar
from hcctrial.web.pages import page_principal, render_subject, templates

router = APIRouter(include_in_schema=False, route_class=TransactionRoute)

#: The sexes a subject may be registered with (SDTM CT C66731, as the API's registration).
SEXES: tuple[str, ...] = get_args(SubjectBody.model_fields["sex"].annotation)

#: Domain -> its page title.
FORM_TITLES = {
    "FINDINGS": "Screening findings",
    "LB": "Lab result",
    "VS": "Vital sign",
    "TU": "Lesion",
    "TR": "Lesion measurement",
    "AE": "Adverse event",
    "EX": "Dose given",
    "CRSICANS": "Daily CRS/ICANS observations",
}
#: Labels of the SDTM variables on the forms (CDISC SDTMIG 3.4 variable labels, shortened).
LABELS = {
    "VISIT": "Visit (as on the calendar, e.g. Week 8)",
    "VISITNUM": "Visit number",
    "LBTESTCD": "Test code (PLT, BILI, ALB ...)",
    "LBTEST": "Test name",
    "LBCAT": "Category",
    "LBORRES": "Result as reported",
    "LBORRESU": "Unit as reported",
    "LBORNRLO": "Normal range, lower limit",
    "LBORNRHI": "Normal range, upper limit",
    "LBSTRESU": "Standard unit (default: the engines')",
    "LBDTC": "Collected (YYYY-MM-DD)",
    "VSTESTCD": "Test code (TEMP, SYSBP ...)",
    "VSTEST": "Test name",
    "VSSTRESN": "Result (standard unit)",
    "VSSTRESU": "Unit",
    "VSDTC": "Measured (YYYY-MM-DD)",
    "TULNKID": "Lesion id (T01, NT01, NEW01)",
    "TUTESTCD": "Test code",
    "TUTEST": "Test",
    "TUORRES": "Result as reported",
    "TUSTRESC": "Role",
    "TULOC": "Location",
    "TUMETHOD": "Method (CT, MRI)",
    "TUEVAL": "Evaluator",
    "TUDTC": "Imaging date",
    "TRGRPID": "Group",
    "TRLNKID": "Lesion id",
    "TRTESTCD": "Measurement",
    "TRTEST": "Measurement name",
    "TRORRES": "Result as reported",
    "TRORRESU": "Unit reported",
    "TRSTRESC": "Result text (state)",
    "TRSTRESN": "Result (number)",
    "TRSTRESU": "Unit",
    "TRMETHOD": "Method",
    "TREVAL": "Evaluator",
    "TRDTC": "Imaging date",
    "AETERM": "Reported term",
    "AEDECOD": "CTCAE term",
    "AEBODSYS": "System organ class",
    "AECAT": "Category (CRS, ICANS ...)",
    "AETOXGR": "CTCAE grade",
    "AESER": "Serious",
    "AEREL": "Relationship",
    "AEOUT": "Outcome",
    "AESTDTC": "Start (YYYY-MM-DD)",
    "AEENDTC": "End (YYYY-MM-DD)",
    "EXTRT": "Treatment",
    "EXCAT": "Category",
    "EXDOSE": "Dose",
    "EXDOSU": "Dose unit",
    "EXROUTE": "Route",
    "EXSTDTC": "Start (YYYY-MM-DD)",
    "EXENDTC": "End (YYYY-MM-DD)",
    "FINDINGS": 'Findings as JSON: {"ecog": 1, "bclc_stage": "C", ...}',
    "THERAPIES": 'Therapy history as JSON: [{"category": ..., "start": ...}]',
    "CONDITIONS": 'Medical history as JSON: [{"name": ..., "onset": ...}]',
    "JUDGEMENTS": 'Investigator judgements as JSON: {"CRITERION-ID": true}',
    "DTC": "Screening date (YYYY-MM-DD)",
    "WEIGHT_KG": "Weight, kg",
    "HEIGHT_CM": "Height, cm",
    # Daily CRS/ICANS observations (ASTCT 2019 grading inputs, hcctrial.safety.crs/icans).
    "FADTC": "Observation day (YYYY-MM-DD)",
    "TEMP": "Highest temperature of the day",
    "TEMPU": "Temperature unit (C or F)",
    "FEVOTH": "Fever attributable to another cause",
    "ANTIPYR": "Antipyretic given",
    "ANTICYT": "Anti-cytokine therapy given (tocilizumab, steroids)",
    "HYPOTN": "Hypotension",
    "VASOPN": "Number of vasopressors other than vasopressin",
    "VASOPRSN": "Vasopressin given",
    "VASOHD": "High-dose vasopressor",
    "HYPOTOTH": "Hypotension attributable to another cause",
    "O2DEV": "Oxygen delivery device",
    "O2FLOW": "Oxygen flow, L/min",
    "HYPOXOTH": "Hypoxia attributable to another cause",
    "DTHCRS": "Death due to CRS",
    "ICE": "ICE score (0-10)",
    "ICEOTH": "ICE impairment attributable to another cause",
    "LOC": "Level of consciousness",
    "LOCOTH": "Depressed consciousness attributable to another cause",
    "SEIZURE": "Seizure",
    "SEIZOTH": "Seizure attributable to another cause",
    "MOTOR": "Motor findings",
    "MOTOROTH": "Motor finding attributable to another cause",
    "ICP": "Raised intracranial pressure / cerebral oedema",
    "ICPOTH": "Oedema attributable to another cause (e.g. haemorrhage)",
    "DTHICANS": "Death due to ICANS",
}

#: Fields kept as JSON text (dictionaries and lists).
_JSON_FIELDS = {"FINDINGS", "THERAPIES", "CONDITIONS", "JUDGEMENTS"}


def _fields(domain: str) -> list[dict[str, Any]]:
    """The inputs of a form page: name, label, kind (text, select, json), choices, required."""
    out = []
    for name, info in FORMS[domain].model_fields.items():
        annotation = str(info.annotation)
        choices: list[str] = []
        if "Literal[" in annotation:
            inside = annotation[annotation.index("Literal[") + 8 : annotation.index("]")]
            choices = [c.strip().strip("'\"") for c in inside.split(",")]
        kind = "json" if name in _JSON_FIELDS else "select" if choices else "text"
        label = LABELS.get(name, (info.description or "").split(";")[0])
        out.append(
            {
                "name": name,
                "label": label,
                "kind": kind,
                "choices": choices,
                "required": info.is_required(),
            }
        )
    return out


def _payload(domain: str, form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    values, errors = {}, {}
    for field in _fields(domain):
        raw = str(form.get(field["name"], "")).strip()
        if raw == "":
            continue
        if field["kind"] == "json":
            try:
                values[field["name"]] = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors[field["name"]] = f"not valid JSON ({exc.msg}, line {exc.lineno})"
        else:
            values[field["name"]] = raw
    return values, errors


def _visit_names(session: Session, subject: Any) -> list[str]:
    """The visits of the subject's protocol calendar, in order (offered for ``VISIT``, so the
    name entered is the calendar's; empty before the first treatment)."""
    calendar, _ = subject_calendar(session, subject)
    if calendar is None:
        return []
    return list(dict.fromkeys(str(v) for v in calendar["VISIT"].to_list()))


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    subject: Any,
    domain: str,
    values: dict[str, str],
    errors: dict[str, str],
    saved: bool = False,
) -> Response:
    context = {
        "visits": _visit_names(session, subject) if "VISIT" in FORMS[domain].model_fields else [],
        "principal": principal,
        "subject": subject,
        "domain": domain,
        "title": FORM_TITLES[domain],
        "fields": _fields(domain),
        "values": values,
        "errors": errors,
        "saved": saved,
        "domains": FORM_TITLES,
    }
    status = 422 if errors else 200
    return templates.TemplateResponse(request, "record_form.html", context, status_code=status)


def _domain(domain: str) -> str:
    code = domain.upper()
    if code not in FORMS:
        raise HTTPException(404, "no such form")
    return code


@router.get("/subjects/{subject_id}/forms/{domain}")
def record_form(
    subject_id: RowId, domain: str, request: Request, session: Session = Depends(db_session)
) -> Response:
    """An empty entry form of one domain."""
    principal = page_principal(request, session)
    subject = load_subject(session, principal, subject_id, "subject.write")
    return _form_page(request, session, principal, subject, _domain(domain), {}, {})


@router.post("/subjects/{subject_id}/forms/{domain}")
async def record_submit(
    subject_id: RowId, domain: str, request: Request, session: Session = Depends(db_session)
) -> Response:
    """Save the record, or show the form again with a message beside each wrong field."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    subject = load_subject(session, principal, subject_id, "subject.write")
    code = _domain(domain)
    values = {f["name"]: str(form.get(f["name"], "")) for f in _fields(code)}
    payload, errors = _payload(code, form)
    if errors:  # not saved; the other fields are checked too, so every message comes at once
        _, problems = service.record_problems(subject, code, payload)
        for p in problems:
            errors.setdefault(p.field.split(".")[0], p.message)
    else:
        try:
            service.save_record(session, subject, code, payload, principal.username)
        except service.EditCheckFailed as exc:
            errors = {}
            for p in exc.problems:
                errors.setdefault(p.field.split(".")[0], p.message)
    if errors:
        return _form_page(request, session, principal, subject, code, values, errors)
    keep = {k: values[k] for k in ("VISIT", "VISITNUM") if values.get(k)}
    return _form_page(request, session, principal, subject, code, keep, {}, saved=True)


def _back(subject_id: int, message: str) -> Response:
    return RedirectResponse(f"/subjects/{subject_id}?done={message}", status_code=303)


def _refused(
    request: Request, session: Session, principal: Principal, subject: Any, exc: Exception
) -> Response:
    if isinstance(exc, service.EditCheckFailed):
        text = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
    else:
        text = str(exc)
    return render_subject(request, session, principal, subject, error=text, status=422)


@router.post("/subjects/{subject_id}/transition")
async def transition_submit(
    subject_id: RowId, request: Request, session: Session = Depends(db_session)
) -> Response:
    """Move the subject to the next state (eligibility: investigators)."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    to = str(form.get("to", ""))
    permission = "eligibility.sign" if to in ("eligible", "ineligible") else "subject.write"
    subject = load_subject(session, principal, subject_id, permission)
    detail: dict[str, Any] = {}
    for key in ("arm", "dose_level", "dsdecod", "dsterm"):
        if str(form.get(key, "")).strip():
            detail[key] = str(form.get(key)).strip()
    strata = str(form.get("strata", "")).strip()
    if strata:
        detail["strata"] = dict(part.split("=", 1) for part in strata.split(";") if "=" in part)
    reason = str(form.get("reason", "")).strip()
    if reason:
        session.info["reason"] = reason
    try:
        service.transition(
            session, subject, to, str(form.get("date", "")).strip(), principal.username, detail
        )
    except (service.EditCheckFailed, HcctrialError) as exc:
        session.rollback()
        return _refused(request, session, principal, subject, exc)
    return _back(subject_id, to)


@router.post("/subjects/{subject_id}/queries")
async def query_submit(
    subject_id: RowId, request: Request, session: Session = Depends(db_session)
) -> Response:
    """Open a query (monitors)."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    subject = load_subject(session, principal, subject_id, "query.open")
    text = str(form.get("text", "")).strip()
    record = str(form.get("record_id", "")).strip()
    if not text:
        return _refused(request, session, principal, subject, ValueError("a query needs a text"))
    if record and not (record.isascii() and record.isdigit() and 0 < int(record) <= MAX_ID):
        why = ValueError("record_id: no such record for this subject")
        return _refused(request, session, principal, subject, why)
    try:
        service.open_query(
            session,
            subject,
            text[:2000],
            principal.username,
            record_id=int(record) if record else None,
            field=str(form.get("field", "")).strip()[:40] or None,
        )
    except service.EditCheckFailed as exc:
        session.rollback()
        return _refused(request, session, principal, subject, exc)
    return _back(subject_id, "query")


@router.post("/queries/{query_id}/{action}")
async def query_action_submit(
    query_id: RowId, action: str, request: Request, session: Session = Depends(db_session)
) -> Response:
    """Answer (site staff), close or reopen (monitors) a query."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    if action not in ("answer", "close", "reopen"):
        raise HTTPException(404, "no such action")
    permission = "query.answer" if action == "answer" else "query.close"
    query, subject = load_query(session, principal, query_id, permission)
    text = str(form.get("text", "")).strip()[:2000]
    try:
        if not text:
            raise ValueError(f"say why (the {action} needs a text)")
        service.act_on_query(session, query, action, text, principal.username)
    except (service.EditCheckFailed, ValueError) as exc:
        session.rollback()
        return _refused(request, session, principal, subject, exc)
    return _back(subject.id, action)


@router.post("/records/{record_id}/sign")
async def sign_submit(
    record_id: RowId, request: Request, session: Session = Depends(db_session)
) -> Response:
    """Lock and sign a record with the password re-entered (investigators)."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    record, subject = load_record(session, principal, record_id, "record.sign")
    user = session.get(User, principal.user_id)
    assert user is not None
    meaning = str(form.get("meaning", ""))
    if failures_of(session, user.username) >= MAX_FAILURES:
        return _refused(
            request, session, principal, subject, ValueError("too many wrong passwords")
        )
    if not verify_password(user.password_hash, str(form.get("password", ""))):
        session.rollback()
        with request.app.state.sessions() as attempts:
            begin_write(attempts)
            client = request.client.host if request.client else "?"
            record_failed_attempt(attempts, user.username, f"signature:{client}")
            attempts.commit()
        return _refused(
            request, session, principal, subject, ValueError("wrong password: not signed")
        )
    if meaning not in ("review", "approval", "responsibility", "authorship"):
        return _refused(request, session, principal, subject, ValueError("choose a meaning"))
    session.info["reason"] = f"signature: {meaning}"
    try:
        service.sign_record(session, record, user.full_name, meaning)
    except service.EditCheckFailed as exc:
        session.rollback()
        return _refused(request, session, principal, subject, exc)
    return _back(subject.id, "signed")


def _sites(session: Session, principal: Principal) -> list[tuple[Site, Study]]:
    rows = session.execute(
        select(Site, Study).join(Study, Study.id == Site.study_id).order_by(Study.id, Site.code)
    ).all()
    return [(s, st) for s, st in rows if principal.can("subject.write", s.id)]


@router.get("/subjects/new")
def new_subject_form(request: Request, session: Session = Depends(db_session)) -> Response:
    """The screening registration form."""
    principal = page_principal(request, session)
    sites = _sites(session, principal)
    if not sites:
        raise HTTPException(403, "your roles do not allow registering subjects")
    context = {"principal": principal, "sites": sites, "values": {}, "errors": {}}
    return templates.TemplateResponse(request, "new_subject.html", context)


@router.post("/subjects/new")
async def new_subject_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    """Register a screened subject, then go to the subject's page."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    sites = _sites(session, principal)
    values = {
        k: str(form.get(k, "")).strip()
        for k in ("site_id", "subjid", "sex", "birth_dtc", "screened_dtc")
    }
    site = next((s for s, _ in sites if str(s.id) == values["site_id"]), None)
    if site is None:
        raise HTTPException(403, "you cannot register subjects at this site")
    errors: dict[str, str] = {}
    for key in ("subjid", "sex", "screened_dtc"):
        if not values[key]:
            errors[key] = "required"
    if values["subjid"] and not values["subjid"].replace("-", "").isalnum():
        errors["subjid"] = "letters, digits and '-' only"
    if values["sex"] and values["sex"] not in SEXES:
        errors["sex"] = f"expected one of {', '.join(SEXES)}"
    data = {k: v for k, v in values.items() if v and k != "site_id" and k not in errors}
    for problem in service.subject_problems(session, site, data):
        errors.setdefault(problem.field, problem.message)
    if not errors:
        try:
            subject = service.create_subject(session, site, data, principal.username)
            return RedirectResponse(f"/subjects/{subject.id}", status_code=303)
        except service.EditCheckFailed as exc:
            session.rollback()
            errors = {p.field: p.message for p in exc.problems}
    context = {"principal": principal, "sites": sites, "values": values, "errors": errors}
    return templates.TemplateResponse(request, "new_subject.html", context, status_code=422)


@router.get("/password")
def password_form(request: Request, session: Session = Depends(db_session)) -> Response:
    """Choose a new password (required after a one-time password)."""
    principal = page_principal(request, session)
    context = {"principal": principal, "errors": {}}
    return templates.TemplateResponse(request, "password.html", context)


@router.post("/password")
async def password_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    """Check the current password and set the new one."""
    form = await request.form()
    principal = page_principal(request, session, str(form.get("csrf_token", "")))
    user = session.get(User, principal.user_id)
    assert user is not None
    new, again = str(form.get("new_password", "")), str(form.get("new_password_again", ""))
    errors: dict[str, str] = {}
    if new != again:
        errors["new_password_again"] = "the two new passwords differ"
    else:
        try:
            change_password(session, user, str(form.get("current_password", "")), new)
            return RedirectResponse("/", status_code=303)
        except InputError as exc:
            errors[exc.problem.column or "new_password"] = exc.problem.message
    context = {"principal": principal, "errors": errors}
    return templates.TemplateResponse(request, "password.html", context, status_code=422)
