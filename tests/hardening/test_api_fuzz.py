"""schemathesis against a live server: every operation of the OpenAPI schema, as every role.

The schema is the one the live server serves at /api/schema/. For each persona (anonymous,
marketer, rep, rep2, manager, admin; token auth) every operation gets generated requests,
valid (positive) and invalid (negative) ones, and each response must: not be a 5xx, have a
status code the schema documents, the documented content type, and a body the schema
describes.

Path parameters are drawn from the real objects half of the time (a lead of rep2's, an
unassigned MQL, the import, the programme, the published campaign with its capture token),
so operations get past the 404 and reach their real work. Destructive operations are
isolated: DELETE /api/leads/{id}/ (GDPR erasure) is aimed at a pool of victim leads no other
operation uses, and DELETE /api/auth/token/ has the persona's token put back right after.

HANDOFF_FUZZ_EXAMPLES (default 4) is the examples per operation, role and mode; set it higher
to fuzz deeper locally, with HANDOFF_FUZZ_RANDOM=1 for new examples on every run (CI runs the
same derandomised examples every time).
"""

import io
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.imports.services import import_job_create
from campaigns.nurture.models import Programme
from tests.hardening.conftest import published_campaign

PERSONAS = ("anonymous", "marketer", "rep", "rep2", "manager", "admin")
EXAMPLES = int(os.environ.get("HANDOFF_FUZZ_EXAMPLES", "4"))
ONLY = os.environ.get("HANDOFF_FUZZ_ONLY", "")
DERANDOMIZE = os.environ.get("HANDOFF_FUZZ_RANDOM", "") not in ("1", "true", "yes")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
ERASE = ("DELETE", "/api/leads/{id}/")
REVOKE = ("DELETE", "/api/auth/token/")


@pytest.fixture
def fuzz_world(settings, tmp_path, make_lead, marketer, rep, rep2, manager, admin_user):
    """Committed objects for the live server, and a token per persona."""
    from celery import current_app

    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")
    # An import started through the API runs at once in the server thread: no broker needed,
    # and the engine is fuzzed too.
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    users = {
        "marketer": marketer,
        "rep": rep,
        "rep2": rep2,
        "manager": manager,
        "admin": admin_user,
    }
    tokens = {name: Token.objects.create(user=user).key for name, user in users.items()}
    leads = [
        make_lead("mql", owner=rep2, first_name="Ada"),
        make_lead("mql"),
        make_lead("sal", owner=rep),
        make_lead("opportunity", owner=rep2),
        make_lead("nurture"),
    ]
    victims = [make_lead("suspect", first_name="Victim") for _ in range(4)]
    campaign = published_campaign(marketer)
    job = import_job_create(
        user=marketer, upload=io.BytesIO(b"Email\nann@example.com\n"), file_name="leads.csv"
    )
    programme = Programme.objects.create(name="Rejected MQLs", exits=["mql"])
    yield {
        "users": users,
        "tokens": tokens,
        "ids": {
            "/api/leads/{id}/": [lead.pk for lead in leads],
            "/api/leads/{id}/transitions/": [lead.pk for lead in leads],
            "/api/imports/{id}/": [job.pk],
            "/api/nurture/programmes/{id}/": [programme.pk],
        },
        "victims": [lead.pk for lead in victims],
        "campaign": campaign,
    }
    current_app.conf.task_always_eager = eager


def _strategy(operation, mode, world):
    """Free generation, or (half the time) aimed at a real object, with the right token."""
    free = operation.as_strategy(generation_mode=mode)
    key = (operation.method.upper(), operation.path)
    ids = world["victims"] if key == ERASE else world["ids"].get(operation.path)
    aimed = []
    if ids:
        aimed = [
            operation.as_strategy(generation_mode=mode, path_parameters={"id": pk}) for pk in ids
        ]
    if operation.path == "/api/capture/{slug}/":
        campaign = world["campaign"]
        aimed = [
            operation.as_strategy(
                generation_mode=mode,
                path_parameters={"slug": campaign.slug},
                headers={"X-Capture-Token": campaign.capture_token},
            )
        ]
    if not aimed:
        return free
    return st.one_of(free, *aimed)


def _fuzz(operation, mode, persona, base_url, world) -> str | None:
    """Run one operation's examples; answers the failure report, or None."""
    raw = operation.definition.raw
    if mode == schemathesis.GenerationMode.NEGATIVE and not (
        raw.get("parameters") or raw.get("requestBody") or "{" in operation.path
    ):
        return None  # nothing in the request can be made invalid
    token = world["tokens"].get(persona)
    headers = {"Authorization": f"Token {token}"} if token else {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, mode, world))
    def run(case):
        # Generated headers may carry an Authorization of their own; the persona's wins.
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if (operation.method.upper(), operation.path) == REVOKE and token:
            user = world["users"][persona]
            Token.objects.get_or_create(user=user, defaults={"key": token})
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except Unsatisfiable:
        return None  # negative mode, and the operation takes nothing that can be made invalid
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a Base one
        return f"{operation.method.upper()} {operation.path} as {persona} ({mode}):\n{exc}"
    return None


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_operation_answers_as_documented(persona, live_server, fuzz_world):
    manager_token = fuzz_world["tokens"]["manager"]
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        headers={"Authorization": f"Token {manager_token}"},
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 22, "the schema lost operations"
    if ONLY:  # e.g. HANDOFF_FUZZ_ONLY="POST /api/campaigns/" while chasing one failure
        operations = [op for op in operations if f"{op.method.upper()} {op.path}" == ONLY]
    failures = [
        failure
        for operation in operations
        for mode in MODES
        if (failure := _fuzz(operation, mode, persona, live_server.url, fuzz_world))
    ]
    assert not failures, "\n\n".join(failures)


NESTED = 20_000  # levels: far past Python's recursion limit, 40 KB


@pytest.mark.parametrize("persona", ["anonymous", "rep", "manager"])
def test_a_deeply_nested_json_body_is_a_400_on_every_operation(persona, live_server, fuzz_world):
    """Every operation that takes a JSON body, given `{"<field>": [[[[...]]]]}`: a 400 in the
    API's error shape (or the refusal it gives before reading a body), never a 5xx."""
    import httpx

    token = fuzz_world["tokens"].get(persona)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    manager_token = fuzz_world["tokens"]["manager"]
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        headers={"Authorization": f"Token {manager_token}"},
    )
    campaign = fuzz_world["campaign"]
    lead = fuzz_world["ids"]["/api/leads/{id}/"][0]
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        body = operation.definition.raw.get("requestBody", {}).get("content", {})
        if "application/json" not in body or operation.method.upper() == "DELETE":
            continue
        path = operation.path.replace("{id}", str(lead)).replace("{slug}", campaign.slug)
        extra = {"X-Capture-Token": campaign.capture_token} if "{slug}" in operation.path else {}
        content = '{"email": ' + "[" * NESTED + "]" * NESTED + "}"
        response = httpx.request(
            operation.method.upper(),
            f"{live_server.url}{path}",
            content=content,
            headers={**headers, **extra},
            timeout=30,
        )
        tried.append(f"{operation.method.upper()} {operation.path}")
        assert response.status_code < 500, (tried[-1], response.text[:300])
        assert response.headers["Content-Type"] == "application/json", tried[-1]
        answer = response.json()
        assert answer["code"] and answer["detail"], (tried[-1], answer)
        if response.status_code == 400:
            assert answer["code"] == "parse_error", (tried[-1], answer)
    assert "POST /api/auth/token/" in tried and "POST /api/capture/{slug}/" in tried
    assert len(tried) >= 8, tried
