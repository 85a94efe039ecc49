"""Fixtures of the web tests: a migrated database with a randomized study (NCT04011033) at two
sites, one user per role at site A (sponsor roles at every site), a subject per site.

The database tests run on SQLite and on PostgreSQL (``env`` is parametrized by backend). The
PostgreSQL cluster is the throw-away one of ``tests/eligibility/services.py`` (installed with
apt-get when missing, on 127.0.0.1, stopped at the end); each test gets its own database,
copied from a template database that is set up once per session (``CREATE DATABASE ...
TEMPLATE``), as each SQLite test gets a copy of a template file.
"""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from hcctrial.web import auth
from hcctrial.web.app import create_app
from hcctrial.web.auth import add_user, create_api_token
from hcctrial.web.db import Site, User, make_engine, make_sessionmaker, upgrade_database
from hcctrial.web.service import create_subject, protocol_source, setup_study

PASSWORD = "correct horse battery"
SEED = 20261122

#: role -> does the role's membership cover every site (sponsor roles) or only site A.
ROLE_SCOPE = {
    "admin": "all",
    "investigator": "A",
    "coordinator": "A",
    "monitor": "A",
    "statistician": "all",
    "auditor": "all",
}
#: Site B staff (the other site of the site-A users).
SITE_B_USERS = {
    "investigator_b": ("investigator", "Site B Investigator"),
    "coordinator_b": ("coordinator", "Site B Coordinator"),
    "monitor_b": ("monitor", "Site B Monitor"),
    "statistician_b": ("statistician", "Site B Statistician"),
    "auditor_b": ("auditor", "Site B Auditor"),
}


def _load_services() -> ModuleType:
    """``tests/eligibility/services.py`` (the throw-away PostgreSQL), imported by file path."""
    name = "hcctrial_test_services"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[1] / "eligibility" / "services.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


services = _load_services()

#: The production hasher (argon2-cffi's defaults: RFC 9106's second recommended option).
PRODUCTION_HASHER = auth._hasher


@pytest.fixture(scope="session", autouse=True)
def fast_argon2() -> Iterator[None]:
    """argon2id with the smallest cost for the tests (a login costs ~0.3 s at the production
    cost on this machine); the hashes are still argon2id, verified the same way."""
    from argon2 import PasswordHasher

    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = auth._DUMMY_HASH
    auth._DUMMY_HASH = auth.hash_password("not a real password, only for constant-time refusals")
    yield
    auth._hasher, auth._DUMMY_HASH = PRODUCTION_HASHER, dummy


@dataclass
class StudyData:
    """Ids and tokens of the set-up study (the same in every copy of the template)."""

    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)


@dataclass
class Env:
    """A running app over a fresh database, with tokens per user."""

    url: str
    backend: str
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, Any]

    def headers(self, user: str) -> dict[str, str]:
        """Bearer headers of ``user`` (a role name, or ``investigator_b`` ... for site B)."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    @property
    def app(self) -> Any:
        return self.client.app

    def session(self) -> Session:
        """A database session of the app (audited; set ``session.info['user']``)."""
        session: Session = self.app.state.sessions()
        return session

    def new_client(self) -> TestClient:
        """Another client (its own cookie jar) of the same app."""
        return TestClient(self.app)

    def login(self, user: str, client: TestClient | None = None) -> tuple[TestClient, str]:
        """A client logged in as ``user`` by cookie; returns it and the CSRF token."""
        client = client or self.new_client()
        r = client.post("/api/login", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return client, r.json()["csrf_token"]


def build_study(url: str) -> StudyData:
    """Migrate the database at ``url`` and set up the study, users, tokens and subjects."""
    upgrade_database(url)
    engine = make_engine(url)
    made = StudyData()
    real_hash = auth.hash_password
    one_hash = real_hash(PASSWORD)
    # One argon2 hash for every fixture user (each takes ~0.2 s); logins still verify it.
    auth.hash_password = lambda p: one_hash if p == PASSWORD else real_hash(p)  # type: ignore[assignment]
    try:
        with make_sessionmaker(engine)() as session:
            session.info["user"] = "setup"
            study = setup_study(
                session,
                protocol_source("NCT04011033"),
                [("A", "Beijing Youan Hospital"), ("B", "Beijing Ditan Hospital")],
                seed=SEED,
            )
            sites = {
                s.code: s for s in session.scalars(select(Site).where(Site.study_id == study.id))
            }
            users: dict[str, User] = {}
            for role, scope in ROLE_SCOPE.items():
                site_id = None if scope == "all" else sites["A"].id
                users[role] = add_user(session, role, role.title(), PASSWORD, [(role, site_id)])
            for name, (role, full_name) in SITE_B_USERS.items():
                users[name] = add_user(session, name, full_name, PASSWORD, [(role, sites["B"].id)])
            for name, user in users.items():
                made.tokens[name] = create_api_token(session, user, "tests")
                made.ids[f"user_{name}"] = user.id
            for code in ("A", "B"):
                subject = create_subject(
                    session,
                    sites[code],
                    {
                        "subjid": f"{code}01",
                        "sex": "F",
                        "birth_dtc": "1960-04-02",
                        "screened_dtc": "2026-01-05",
                    },
                    "setup",
                )
                made.ids[f"subject_{code}"] = subject.id
                made.ids[f"usubjid_{code}"] = subject.usubjid
                made.ids[f"site_{code}"] = sites[code].id
            made.ids["study"] = study.id
            session.commit()
    finally:
        auth.hash_password = real_hash  # type: ignore[assignment]
        engine.dispose()
    return made


@dataclass
class Template:
    """A set-up database to copy for each test."""

    backend: str
    source: str
    data: StudyData


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("template") / "study.db"
    data = build_study(f"sqlite:///{path}")
    return Template("sqlite", str(path), data)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (skips with the reason when it cannot be
    installed or started here)."""
    try:
        with services.postgres() as server:
            yield server
    except services.ServiceUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")


def pg_url(server: Any, database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{database}"


def pg_admin(server: Any, sql: str) -> None:
    """Run one statement outside a transaction (CREATE / DROP DATABASE)."""
    engine = create_engine(pg_url(server, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_server: Any) -> Template:
    pg_admin(pg_server, "CREATE DATABASE hcct_template")
    data = build_study(pg_url(pg_server, "hcct_template"))
    return Template("postgresql", "hcct_template", data)


_COUNTER = itertools.count(1)


def copy_database(
    template: Template, tmp_path: Path, pg_server: Any | None = None
) -> Iterator[str]:
    """A fresh copy of ``template``; yields its URL and drops it afterwards."""
    if template.backend == "sqlite":
        target = tmp_path / "study.db"
        shutil.copyfile(template.source, target)
        yield f"sqlite:///{target}"
        return
    name = f"hcct_{next(_COUNTER)}"
    pg_admin(pg_server, f"CREATE DATABASE {name} TEMPLATE {template.source}")
    try:
        yield pg_url(pg_server, name)
    finally:
        pg_admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.service)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of a test (SQLite, then PostgreSQL)."""
    return str(request.param)


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Template]:
    """A fresh copy of the set-up study database: (backend, URL, ids and tokens)."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        server = None
    else:
        template = request.getfixturevalue("pg_template")
        server = request.getfixturevalue("pg_server")
    for url in copy_database(template, tmp_path, server):
        yield Template(backend, url, template.data)


@pytest.fixture
def env(database: Template) -> Iterator[Env]:
    """A running app (TestClient) over a fresh copy of the study database."""
    app = create_app(database.source, migrate=False)
    client = TestClient(app)
    made = Env(
        database.source, database.backend, client, database.data.tokens, dict(database.data.ids)
    )
    with client:
        yield made
    app.state.engine.dispose()


# ---- data for the tests -------------------------------------------------------------------

#: Judgements of the investigator for NCT04011033's criteria that no data item decides
#: (inclusions true = met, exclusions false = not excluding).
JUDGEMENTS = {
    "IN-NO-EFFECTIVE-THERAPY": True,
    "IN-UNRESECTABLE": True,
    "IN-INKT-PBMC": True,
    "EX-UNCONTROLLED-SYSTEMIC": False,
    "EX-PVTT-BRANCH": False,
    "EX-SYPHILIS": False,
    "EX-TRANSPLANT-STEM-CELL": False,
    "EX-EFFUSIONS-ASCITES": False,
    "EX-INVESTIGATOR": False,
}

#: Screening findings of an eligible NCT04011033 patient (EX-001 of the screening examples
#: without its ongoing sorafenib).
FINDINGS = {
    "diagnosis": "HCC",
    "diagnosis_basis": "histology",
    "bclc_stage": "C",
    "ecog": 1,
    "kps": 80,
    "life_expectancy_weeks": 36,
    "gpc3_ihc": "positive",
    "measurable_lesions": 2,
    "mrecist_measurable_lesions": 2,
    "hbsag_positive": True,
    "hbcab_positive": True,
    "hcv_ab_positive": False,
    "hiv_positive": False,
    "antiviral_days": 900,
    "ascites": "none",
    "encephalopathy": "none",
    "ascites_depth_cm": 0,
    "tumour_liver_fraction": 30,
    "vascular_invasion_occlusive": False,
    "main_portal_vein_invasion": False,
    "extrahepatic_spread": True,
    "lvef_percent": 62,
    "fev1_percent_predicted": 88,
    "pregnant": False,
    "lactating": False,
    "consent_signed": True,
    "donor_available": True,
    "tace_failure_jsh": True,
    "prior_lines_systemic": 1,
    "stable_vital_signs": True,
}

#: Screening labs of that patient: (code, value, unit, lln, uln).
LABS = [
    ("PLT", 132, "10^9/L", 125, 350),
    ("WBC", 4.8, "10^9/L", 4.0, 10.0),
    ("NEUT", 2.9, "10^9/L", 1.8, 7.5),
    ("LYM", 1.2, "10^9/L", 1.0, 3.2),
    ("HGB", 118, "g/L", 130, 175),
    ("ALB", 36, "g/L", 35, 52),
    ("BILI", 18, "umol/L", 3.4, 21),
    ("ALT", 48, "U/L", None, 40),
    ("AST", 62, "U/L", None, 40),
    ("ALP", 130, "U/L", 40, 150),
    ("GGT", 90, "U/L", None, 60),
    ("CREAT", 0.9, "mg/dL", 0.7, 1.2),
    ("INR", 1.1, None, 0.8, 1.2),
    ("PTPROL", 1.5, "s", None, None),
    ("LIPASE", 40, "U/L", None, 60),
    ("AMYLASE", 70, "U/L", None, 100),
    ("HBVDNA", 50, "IU/mL", None, None),
    ("HBA1C", 5.8, "%", None, 6.0),
    ("AFP", 320, "ng/mL", None, 7),
    ("INKTPBMC", 0.05, "%", None, None),
]


def lab_payload(code: str, value: float, unit: str | None, lo: Any, hi: Any, dtc: str) -> dict:
    body: dict[str, Any] = {"LBTESTCD": code, "LBORRES": value, "LBDTC": dtc}
    if unit:
        body["LBORRESU"] = unit
    if lo is not None:
        body["LBORNRLO"] = lo
    if hi is not None:
        body["LBORNRHI"] = hi
    return body


def findings_payload(dtc: str) -> dict[str, Any]:
    return {
        "FINDINGS": FINDINGS,
        "THERAPIES": [
            {
                "category": "interventional_therapy",
                "name": "TACE",
                "start": "2025-02-10",
                "end": "2025-02-10",
            }
        ],
        "CONDITIONS": [{"name": "hbv_active", "onset": "2008-06", "ongoing": True}],
        "JUDGEMENTS": JUDGEMENTS,
        "DTC": dtc,
        "WEIGHT_KG": 70,
        "HEIGHT_CM": 170,
    }


def screen_eligible(env: Env, subject_id: int, day: str, user: str = "coordinator") -> None:
    """Consent and enter the screening data of an eligible patient (labs dated ``day``)."""
    h = env.headers(user)
    r = env.client.post(
        f"/api/subjects/{subject_id}/transitions", headers=h, json={"to": "consented", "date": day}
    )
    assert r.status_code == 200, r.text
    r = env.client.post(
        f"/api/subjects/{subject_id}/records/FINDINGS", headers=h, json=findings_payload(day)
    )
    assert r.status_code == 201, r.text
    for lab in LABS:
        r = env.client.post(
            f"/api/subjects/{subject_id}/records/LB", headers=h, json=lab_payload(*lab, day)
        )
        assert r.status_code == 201, (lab, r.text)


def new_subject(
    env: Env,
    subjid: str,
    site: str = "A",
    *,
    user: str | None = None,
    screened_dtc: str = "2026-01-05",
) -> int:
    """Register a screened male subject born 1962-03-14 at ``site`` through the API (by the
    site's coordinator unless ``user`` is given); returns its id."""
    user = user or ("coordinator" if site == "A" else "coordinator_b")
    r = env.client.post(
        "/api/subjects",
        headers=env.headers(user),
        json={
            "site_id": env.ids[f"site_{site}"],
            "subjid": subjid,
            "sex": "M",
            "birth_dtc": "1962-03-14",
            "screened_dtc": screened_dtc,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def move(env: Env, subject_id: int, to: str, day: str, user: str = "coordinator", **extra: Any):
    """POST a transition; returns the response."""
    body: dict[str, Any] = {"to": to, "date": day, **extra}
    return env.client.post(
        f"/api/subjects/{subject_id}/transitions", headers=env.headers(user), json=body
    )


def randomize_new(env: Env, subject_id: int, start: date) -> dict[str, Any]:
    """Screen, sign eligible, enrol and randomize a subject from ``start`` on (one day each)."""
    days = [(start + timedelta(days=i)).isoformat() for i in range(4)]
    screen_eligible(env, subject_id, days[0])
    assert move(env, subject_id, "eligible", days[1], "investigator").status_code == 200
    assert move(env, subject_id, "enrolled", days[2]).status_code == 200
    r = move(env, subject_id, "randomized", days[3])
    assert r.status_code == 200, r.text
    return dict(r.json())
