"""schemathesis against the OpenAPI document: generated requests to every operation get no
server error (5xx). One user holds every role at every site, so no request stops at a 403;
path ids are drawn from the ids that exist as well as from the whole range, so requests reach
the code behind the 404. Operations that would log that user out or revoke its token are left
out (they are covered by the authentication tests). A small example budget keeps it well under
a minute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from hcctrial.web import auth
from hcctrial.web.app import create_app
from hcctrial.web.db import ROLES, make_engine, make_sessionmaker

from .conftest import BACKENDS, PASSWORD, copy_database

EXISTING_IDS = [1, 2, 3]
TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module", params=BACKENDS)
def api_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The app over a copy of the study database, with a user holding every role."""
    if request.param == "sqlite":
        template, server = request.getfixturevalue("sqlite_template"), None
    else:
        template, server = (
            request.getfixturevalue("pg_template"),
            request.getfixturevalue("pg_server"),
        )
    for url in copy_database(template, tmp_path_factory.mktemp("fuzz"), server):
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            session.info["user"] = "setup"
            user = auth.add_user(
                session, "everyone", "Every Role", PASSWORD, [(r, None) for r in ROLES]
            )
            TOKEN["value"] = auth.create_api_token(session, user, "fuzz")
            session.commit()
        engine.dispose()
        app = create_app(url, migrate=False)
        with TestClient(app):
            yield app
        app.state.engine.dispose()


def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Most ids drawn are ids that exist."""
    if not path_parameters:
        return st.just(path_parameters)
    strategies = {
        name: st.sampled_from([*EXISTING_IDS, value]) if isinstance(value, int) else st.just(value)
        for name, value in path_parameters.items()
    }
    return st.fixed_dictionaries(strategies)


@pytest.fixture(scope="module")
def api_schema(api_app: Any) -> Any:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    loaded.hook(flatmap_path_parameters)
    return loaded.exclude(path_regex=r"^/api/(logout|password|tokens/\{token_id\}/revoke)$")


#: Examples per operation, generation mode (data that fits the schema, and data that does
#: not) and database; about 35 operations.
EXAMPLES = 15


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(api_schema: Any, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    failures: list[str] = []
    operations = _operations(api_schema)
    assert len(operations) > 30
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:
            pass  # no data that does not fit the schema: the operation takes no input
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)


def test_the_openapi_document_describes_the_api(api_app: Any) -> None:
    doc = TestClient(api_app).get("/openapi.json").json()
    assert doc["info"]["title"] == "hcctrial study database"
    paths = doc["paths"]
    assert "/api/subjects/{subject_id}/records/LB" in paths
    assert not any(p == "/" or p.startswith("/subjects") for p in paths)  # pages stay out
    body = paths["/api/subjects/{subject_id}/records/LB"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/LabForm")
