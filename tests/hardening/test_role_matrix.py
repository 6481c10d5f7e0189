"""The role matrix: every page and API endpoint x every persona, and the status each gets.

One row per route (and method); each row names the status every persona must get. Each
request runs inside a savepoint that is rolled back, so a POST by one persona does not change
what the next one sees. Object-level rows use a lead owned by `rep2`: for `rep` it is a
colleague's lead (reading allowed, acting refused with 403 — the project's decision), for
`rep2` it is their own.
"""

import json
import re
from urllib.parse import quote

import pytest
from django.core import signing
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from campaigns.capture import rate_key
from campaigns.imports.services import import_job_create
from campaigns.models import ScoringRule, Segment
from campaigns.nurture import mailing
from campaigns.nurture.models import Audience, ContentAsset, Enrollment, Message, Programme, Step
from campaigns.nurture.services import step_add
from funnel.models import AcceptanceCriterion, Opportunity
from leads.models import Lead
from tests.hardening.conftest import published_campaign

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "marketer", "rep", "rep2", "manager", "admin")
MISSING = 999_999
PERSONA_NAMES = {"marketer": "marketer", "rep": "rep", "rep2": "rep2", "manager": "manager"}
PERSONA_NAMES["admin"] = "boss"  # the admin_user fixture's username


LOGIN = 302  # a page sends the anonymous visitor to the login page
NOT_ALLOWED = 405  # a POST-only action asked with GET


def row(method, path, kind, expect, data=None, why="", check=None):
    """expect: the status for anonymous, marketer, rep, rep2, manager, admin."""
    return {
        "method": method,
        "path": path,
        "kind": kind,
        "expect": dict(zip(PERSONAS, expect, strict=True)),
        "data": data,
        "why": why,
        "check": check,
    }


def everyone(ok=200, kind="page"):
    return ((LOGIN if kind == "page" else 401), ok, ok, ok, ok, ok)


def marketing(ok=200, kind="page"):
    return ((LOGIN if kind == "page" else 401), ok, 403, 403, ok, ok)


def sales(ok=200):
    return (LOGIN, 403, ok, ok, ok, ok)


def managers(ok=200):
    return (LOGIN, 403, 403, 403, ok, ok)


def public(status):
    return (status,) * 6


def post_only():
    return (LOGIN,) + (NOT_ALLOWED,) * 5


# --- checks on the content, where the status alone would not say enough ---------------------


def shows_lead_email(response, persona, ids):
    assert ids["lead_email"].encode() in response.content


def login_form(response, persona, ids):
    if persona == "anonymous":
        assert b"Log in to Handoff" in response.content
    else:  # signed in already: sent on to their home page
        assert response["Location"] == "/"


def to_login(response, persona, ids):
    assert response["Location"].startswith("/accounts/login/")


def bulk_outcome(response, persona, ids):
    if persona == "anonymous":
        return
    (result,) = response.json()["results"]
    # The bulk answer is 200 with each lead's own status: a colleague's lead is refused.
    expected = {"marketer": 403, "rep": 403, "rep2": 201, "manager": 201, "admin": 201}
    assert result["status"] == expected[persona], result
    if result["status"] == 403:
        assert result["code"] == "permission_denied"


def claimed_by_colleague(response, persona, ids):
    if persona == "rep":
        assert b"rep2 already took lead" in response.content


def shows_message(response, persona, ids):
    assert b"Sent: Hi" in response.content


def not_claimable(response, persona, ids):
    if persona in ("rep", "rep2"):
        assert b"only MQLs are claimed from the queue" in response.content


def swagger(response, persona, ids):
    assert b"swagger" in response.content.lower()


def moved_to_sal(response, persona, ids):
    body = response.json()
    assert (body["lead"], body["to"], body["actor"]) == (ids["lead"], "sal", PERSONA_NAMES[persona])


def pixel(response, persona, ids):
    assert response["Content-Type"] == "image/gif"


def click_through(response, persona, ids):
    assert response["Location"] == "https://example.com/guide"


def unsubscribe_page(response, persona, ids):
    assert b"nsubscribe" in response.content


def landing_page(response, persona, ids):
    assert b"Join the spring webinar" in response.content


def no_body(response, persona, ids):
    assert response.content == b""
    assert response["Content-Type"].startswith("text/html")


def admin_login(response, persona, ids):
    assert response["Location"].startswith("/admin/login/")


def csv_body(response, persona, ids):
    assert response["Content-Type"].startswith("text/csv")


COLLEAGUE = "belongs to rep2"
MARKETING_ONLY = "marketers and managers"
SALES_ONLY = "sales reps and managers"

ROWS = {
    # --- config.urls
    "home": row("GET", "/", "page", everyone()),
    "login": row("GET", "/accounts/login/", "page", (200,) + (302,) * 5, check=login_form),
    "logout": row("POST", "/accounts/logout/", "page", public(302)),
    "lead-list": row("GET", "/leads/", "page", everyone(), check=None),
    "lead-export": row("GET", "/leads/export/?stage=mql", "page", everyone(), check=csv_body),
    "lead-bulk GET": row("GET", "/leads/bulk/", "page", post_only()),
    "lead-bulk assign": row(
        "POST",
        "/leads/bulk/",
        "page",
        managers(302),
        data={"action": "assign", "owner": "", "lead": ["{lead}"]},
        why="Only managers assign leads.",
    ),
    # Each lead is done or refused in the messages: the request itself is fine for everyone.
    "lead-bulk move": row(
        "POST",
        "/leads/bulk/",
        "page",
        (LOGIN, 302, 302, 302, 302, 302),
        data={"action": "move", "to": "sal", "lead": ["{lead}"]},
    ),
    "lead-detail (a colleague's lead: reading allowed)": row(
        "GET", "/leads/{lead}/", "page", everyone(), check=shows_lead_email
    ),
    "lead-detail missing": row("GET", "/leads/{missing}/", "page", everyone(404)),
    "lead-move GET": row("GET", "/leads/{lead}/move/", "page", post_only()),
    "lead-move (a colleague's lead)": row(
        "POST",
        "/leads/{lead}/move/",
        "page",
        (LOGIN, 403, 403, 302, 302, 302),
        data={"from_stage": "mql", "to": "sal"},
        why={"marketer": "Only managers and sales reps can accept", "rep": COLLEAGUE},
    ),
    "lead-erase GET": row("GET", "/leads/{lead}/erase/", "page", post_only()),
    "lead-erase (GDPR)": row(
        "POST",
        "/leads/{lead}/erase/",
        "page",
        managers(302),
        data={"confirm": "erase"},
        why="Only managers erase",
    ),
    "lead-erase missing": row(
        "POST", "/leads/{missing}/erase/", "page", everyone(404), data={"confirm": "erase"}
    ),
    "lead-move missing": row(
        "POST", "/leads/{missing}/move/", "page", everyone(404), data={"from_stage": "mql"}
    ),
    "admin": row("GET", "/admin/", "page", public(302), check=admin_login),
    # --- reporting
    "dashboard": row("GET", "/dashboard/", "page", everyone()),
    "dashboard-campaigns": row("GET", "/dashboard/campaigns/", "page", everyone()),
    "dashboard-my-campaigns": row(
        "GET", "/dashboard/campaigns/mine/", "page", marketing(), why="not for your role"
    ),
    "dashboard-me": row("GET", "/dashboard/me/", "page", sales(), why="not for your role"),
    "dashboard-leads": row("GET", "/dashboard/leads/?stage=mql", "page", everyone()),
    # --- funnel (the sales workspace)
    "queue (a marketer: 403)": row("GET", "/queue/", "page", sales(), why=SALES_ONLY),
    "queue-bulk GET": row("GET", "/queue/bulk/", "page", post_only()),
    "queue-bulk": row(
        "POST",
        "/queue/bulk/",
        "page",
        (LOGIN, 403, 302, 302, 302, 302),
        data={"verb": "accept", "lead": ["{lead}"]},
        why=SALES_ONLY,
    ),
    "queue-settings": row("GET", "/queue/settings/", "page", managers(), why="managers"),
    "queue-decide GET": row("GET", "/queue/{lead}/decide/", "page", post_only()),
    "queue-decide (a colleague's lead)": row(
        "POST",
        "/queue/{lead}/decide/",
        "page",
        (LOGIN, 403, 403, 302, 302, 302),
        data={"from_stage": "mql", "verb": "accept"},
        why={"marketer": SALES_ONLY, "rep": COLLEAGUE},
    ),
    "queue-decide missing": row(
        "POST",
        "/queue/{missing}/decide/",
        "page",
        (LOGIN, 403, 404, 404, 404, 404),
        data={"from_stage": "mql", "verb": "accept"},
        why=SALES_ONLY,
    ),
    # A colleague's lead is theirs already: the service answers 409 naming them; managers
    # assign (reassign) rather than claim.
    "queue-claim (a colleague's lead)": row(
        "POST",
        "/queue/{lead}/claim/",
        "page",
        (LOGIN, 403, 409, 302, 403, 403),
        why={
            "marketer": SALES_ONLY,
            "manager": "Only sales reps claim leads; managers reassign them.",
            "admin": "Only sales reps claim leads; managers reassign them.",
        },
        check=claimed_by_colleague,
    ),
    # Claims are for the queue's MQLs: an unassigned nurtured lead is marketing's.
    "queue-claim (an unassigned nurtured lead)": row(
        "POST",
        "/queue/{nurtured}/claim/",
        "page",
        (LOGIN, 403, 409, 409, 403, 403),
        why={
            "marketer": SALES_ONLY,
            "manager": "Only sales reps claim leads; managers reassign them.",
            "admin": "Only sales reps claim leads; managers reassign them.",
        },
        check=not_claimable,
    ),
    "queue-reassign": row(
        "POST",
        "/queue/{lead}/reassign/",
        "page",
        managers(302),
        data={"owner": ""},
        why="managers",
    ),
    "pipeline": row("GET", "/pipeline/", "page", sales(), why=SALES_ONLY),
    "pipeline POST (a colleague's deal)": row(
        "POST",
        "/pipeline/",
        "page",
        (LOGIN, 403, 403, 302, 302, 302),
        data={"deal": "{deal}", "pipeline_stage": "{stage2}"},
        why={"marketer": SALES_ONLY, "rep": "rep2"},
    ),
    "pipeline-stages": row("GET", "/pipeline/stages/", "page", managers(), why="managers"),
    "deal-move GET": row("GET", "/pipeline/deals/{deal}/move/", "page", post_only()),
    "deal-move (a colleague's deal)": row(
        "POST",
        "/pipeline/deals/{deal}/move/",
        "page",
        (LOGIN, 403, 403, 302, 302, 302),
        data={"pipeline_stage": "{stage2}"},
        why={"marketer": SALES_ONLY, "rep": "rep2"},
    ),
    "deal-move missing": row(
        "POST",
        "/pipeline/deals/{missing}/move/",
        "page",
        (LOGIN, 403, 404, 404, 404, 404),
        data={"pipeline_stage": "{stage2}"},
        why=SALES_ONLY,
    ),
    "criteria": row("GET", "/criteria/", "page", sales(), why=SALES_ONLY),
    "criterion-new": row("GET", "/criteria/new/", "page", managers(), why="managers"),
    "criterion-edit": row("GET", "/criteria/{criterion}/", "page", managers(), why="managers"),
    "criterion-edit missing": row(
        "GET", "/criteria/{missing}/", "page", managers(404), why="managers"
    ),
    # --- campaigns.imports
    "import-list": row("GET", "/imports/", "page", marketing(), why=MARKETING_ONLY),
    "import-new": row("GET", "/imports/new/", "page", marketing(), why=MARKETING_ONLY),
    "import-detail": row("GET", "/imports/{job}/", "page", marketing(), why=MARKETING_ONLY),
    "import-detail missing": row(
        "GET", "/imports/{missing}/", "page", marketing(404), why=MARKETING_ONLY
    ),
    "import-mapping": row(
        "GET", "/imports/{job}/mapping/", "page", marketing(), why=MARKETING_ONLY
    ),
    "import-preview": row(
        "GET", "/imports/{job}/preview/", "page", marketing(), why=MARKETING_ONLY
    ),
    "import-start GET": row("GET", "/imports/{job}/start/", "page", post_only()),
    "import-resume GET": row("GET", "/imports/{job}/resume/", "page", post_only()),
    "import-errors": row(
        "GET",
        "/imports/{job}/errors.csv",
        "page",
        marketing(),
        why=MARKETING_ONLY,
        check=csv_body,
    ),
    # --- campaigns.nurture
    "nurture-content": row("GET", "/content/", "page", marketing(), why=MARKETING_ONLY),
    "nurture-content-edit": row(
        "GET", "/content/{asset}/", "page", marketing(), why=MARKETING_ONLY
    ),
    "nurture-content-edit missing": row(
        "GET", "/content/{missing}/", "page", marketing(404), why=MARKETING_ONLY
    ),
    "nurture-programmes": row("GET", "/nurture/", "page", marketing(), why=MARKETING_ONLY),
    "nurture-programme": row(
        "GET", "/nurture/{programme}/", "page", marketing(), why=MARKETING_ONLY
    ),
    "nurture-programme missing": row(
        "GET", "/nurture/{missing}/", "page", marketing(404), why=MARKETING_ONLY
    ),
    "nurture-step-add GET": row("GET", "/nurture/{programme}/steps/", "page", post_only()),
    "nurture-step-remove GET": row(
        "GET", "/nurture/{programme}/steps/{step}/remove/", "page", post_only()
    ),
    "nurture-audiences": row("GET", "/nurture/audiences/", "page", marketing(), why=MARKETING_ONLY),
    "nurture-audience-export": row(
        "GET",
        "/nurture/audiences/{audience}/export.csv",
        "page",
        marketing(),
        why=MARKETING_ONLY,
        check=csv_body,
    ),
    "nurture-audience-export missing": row(
        "GET",
        "/nurture/audiences/{missing}/export.csv",
        "page",
        marketing(404),
        why=MARKETING_ONLY,
    ),
    "nurture-lead (a colleague's lead)": row(
        "GET", "/nurture/leads/{lead}/", "page", everyone(), check=shows_message
    ),
    "nurture-lead missing": row("GET", "/nurture/leads/{missing}/", "page", everyone(404)),
    "nurture-open (public, signed)": row(
        "GET", "/n/o/{open_token}/", "page", public(200), check=pixel
    ),
    "nurture-open forged": row("GET", "/n/o/forged/", "page", public(404)),
    "nurture-click (public, signed)": row(
        "GET", "/n/c/{click_token}/", "page", public(302), check=click_through
    ),
    "nurture-click forged": row("GET", "/n/c/forged/", "page", public(404)),
    "nurture-unsubscribe (public, signed)": row(
        "GET", "/n/u/{unsub_token}/", "page", public(200), check=unsubscribe_page
    ),
    "nurture-unsubscribe forged": row("GET", "/n/u/forged/", "page", public(404)),
    # --- campaigns
    "segment-list": row("GET", "/segments/", "page", marketing(), why=MARKETING_ONLY),
    "segment-new": row("GET", "/segments/new/", "page", marketing(), why=MARKETING_ONLY),
    "segment-preview GET": row("GET", "/segments/preview/", "page", post_only()),
    "segment-edit": row("GET", "/segments/{segment}/", "page", marketing(), why=MARKETING_ONLY),
    "segment-edit missing": row(
        "GET", "/segments/no-such-segment/", "page", marketing(404), why=MARKETING_ONLY
    ),
    "campaign-list": row("GET", "/campaigns/", "page", marketing(), why=MARKETING_ONLY),
    "campaign-new": row("GET", "/campaigns/new/", "page", marketing(), why=MARKETING_ONLY),
    "campaign-detail": row("GET", "/campaigns/{slug}/", "page", marketing(), why=MARKETING_ONLY),
    "campaign-detail missing": row(
        "GET", "/campaigns/no-such-campaign/", "page", marketing(404), why=MARKETING_ONLY
    ),
    "campaign-edit": row("GET", "/campaigns/{slug}/edit/", "page", marketing(), why=MARKETING_ONLY),
    "campaign-token-rotate GET": row("GET", "/campaigns/{slug}/rotate-token/", "page", post_only()),
    "scoring-rules": row("GET", "/scoring/", "page", marketing(), why=MARKETING_ONLY),
    "scoring-rule-delete GET": row("GET", "/scoring/{rule}/delete/", "page", post_only()),
    # Predictive scoring (issue 16): every role reads the model page; training is marketing's.
    "scoring-model": row("GET", "/scoring/model/", "page", everyone()),
    "scoring-threshold GET": row("GET", "/scoring/threshold/", "page", post_only()),
    "landing (public)": row("GET", "/f/{slug}/", "page", public(200), check=landing_page),
    "landing missing": row("GET", "/f/no-such-campaign/", "page", public(404)),
    "landing HEAD (public)": row("HEAD", "/f/{slug}/", "page", public(200), check=no_body),
    "landing-thanks (public)": row("GET", "/f/{slug}/thanks/", "page", public(200)),
    # --- the API (config.urls api, campaigns.nurture api_urlpatterns)
    "api-token GET": row("GET", "/api/auth/token/", "api", public(405)),
    "api-leads": row("GET", "/api/leads/", "api", everyone(kind="api")),
    "api-lead (a colleague's lead: reading allowed)": row(
        "GET", "/api/leads/{lead}/", "api", everyone(kind="api"), check=shows_lead_email
    ),
    "api-lead missing": row("GET", "/api/leads/{missing}/", "api", everyone(404, kind="api")),
    "api-lead PATCH (a colleague's lead)": row(
        "PATCH",
        "/api/leads/{lead}/",
        "api",
        (401, 200, 403, 200, 200, 200),
        data={"company": "Initech"},
    ),
    # A rep edits their own leads and the queue's unassigned MQLs, not marketing's suspects.
    "api-lead PATCH (an unassigned suspect)": row(
        "PATCH",
        "/api/leads/{suspect}/",
        "api",
        (401, 200, 403, 403, 200, 200),
        data={"company": "Initech"},
    ),
    # Consent given back: only a manager, and only with the reason (400 without it).
    "api-lead PATCH do_not_email back to false": row(
        "PATCH",
        "/api/leads/{unsubscribed}/",
        "api",
        (401, 403, 403, 403, 400, 400),
        data={"do_not_email": False},
    ),
    "api-lead PATCH do_not_email back to false, with the reason": row(
        "PATCH",
        "/api/leads/{unsubscribed}/",
        "api",
        (401, 403, 403, 403, 200, 200),
        data={"do_not_email": False, "consent_reason": "Asked for the newsletter by phone"},
    ),
    "api-lead PATCH missing": row(
        "PATCH", "/api/leads/{missing}/", "api", everyone(404, kind="api"), data={"city": "Bonn"}
    ),
    "api-leads POST": row(
        "POST", "/api/leads/", "api", everyone(201, kind="api"), data={"email": "new@example.com"}
    ),
    # Suspect -> MQL is marketing's (and the system's, and managers'): so is creating an MQL.
    "api-leads POST into mql": row(
        "POST",
        "/api/leads/",
        "api",
        (401, 201, 403, 403, 201, 201),
        data={"email": "new@example.com", "stage": "mql"},
    ),
    "api-lead DELETE (GDPR erasure)": row(
        "DELETE",
        "/api/leads/{lead}/",
        "api",
        (401, 403, 403, 403, 204, 204),
        why="Only managers erase",
    ),
    "api-lead DELETE missing": row(
        "DELETE", "/api/leads/{missing}/", "api", everyone(404, kind="api")
    ),
    "api-token DELETE (revoke)": row(
        "DELETE", "/api/auth/token/", "api", (401, 204, 204, 204, 204, 204)
    ),
    "api-transitions (a colleague's lead)": row(
        "GET", "/api/leads/{lead}/transitions/", "api", everyone(kind="api")
    ),
    "api-transitions missing": row(
        "GET", "/api/leads/{missing}/transitions/", "api", everyone(404, kind="api")
    ),
    "api-transitions POST (a colleague's lead)": row(
        "POST",
        "/api/leads/{lead}/transitions/",
        "api",
        (401, 403, 403, 201, 201, 201),
        data={"to": "sal", "from": "mql"},
        check=moved_to_sal,
    ),
    "api-transitions POST missing": row(
        "POST",
        "/api/leads/{missing}/transitions/",
        "api",
        everyone(404, kind="api"),
        data={"to": "sal", "from": "mql"},
    ),
    "api-bulk-transitions GET": row(
        "GET", "/api/leads/bulk-transitions/", "api", everyone(405, kind="api")
    ),
    "api-bulk-transitions (a colleague's lead)": row(
        "POST",
        "/api/leads/bulk-transitions/",
        "api",
        everyone(kind="api"),
        data={"leads": ["{lead}"], "to": "sal"},
        check=bulk_outcome,
    ),
    "api-reasons": row("GET", "/api/reasons/", "api", everyone(kind="api")),
    "api-funnel": row("GET", "/api/funnel/", "api", everyone(kind="api")),
    "api-campaigns": row("GET", "/api/campaigns/", "api", everyone(kind="api")),
    "api-scoring-model": row("GET", "/api/scoring/model/", "api", everyone(kind="api")),
    "api-campaigns POST": row(
        "POST",
        "/api/campaigns/",
        "api",
        marketing(201, kind="api"),
        data={"name": "Autumn fair", "channel": "event"},
    ),
    "api-capture GET": row("GET", "/api/capture/{slug}/", "api", public(405)),
    "api-capture (public, by the campaign's token)": row(
        "POST",
        "/api/capture/{slug}/?token={capture_token}",
        "api",
        public(201),
        data={"email": "grace@example.com"},
    ),
    "api-capture wrong token": row(
        "POST",
        "/api/capture/{slug}/?token=wrong",
        "api",
        public(401),
        data={"email": "grace@example.com"},
    ),
    "api-capture missing campaign": row(
        "POST",
        "/api/capture/no-such-campaign/?token=wrong",
        "api",
        public(404),
        data={"email": "grace@example.com"},
    ),
    "api-imports": row("GET", "/api/imports/", "api", marketing(kind="api")),
    "api-imports POST": row("POST", "/api/imports/", "upload", marketing(202, kind="api")),
    "api-import": row("GET", "/api/imports/{job}/", "api", marketing(kind="api")),
    "api-import missing": row("GET", "/api/imports/{missing}/", "api", marketing(404, kind="api")),
    # The job's error_report_url: the API's own route, with the API's own auth.
    "api-import-errors": row(
        "GET", "/api/imports/{job}/errors.csv", "api", marketing(kind="api"), check=csv_body
    ),
    "api-import-errors missing": row(
        "GET", "/api/imports/{missing}/errors.csv", "api", marketing(404, kind="api")
    ),
    "api-nurture-programmes": row("GET", "/api/nurture/programmes/", "api", marketing(kind="api")),
    "api-nurture-programme": row(
        "GET", "/api/nurture/programmes/{programme}/", "api", marketing(kind="api")
    ),
    "api-nurture-programme missing": row(
        "GET", "/api/nurture/programmes/{missing}/", "api", marketing(404, kind="api")
    ),
    "api-nurture-enrollments": row(
        "GET", "/api/nurture/enrollments/", "api", marketing(kind="api")
    ),
    "api-schema": row("GET", "/api/schema/", "api", everyone(kind="api")),
    # The docs are a page: the anonymous visitor is sent to log in.
    "api-docs": row("GET", "/api/docs/", "page", everyone(), check=swagger),
}


# --- a rep's working day (issue 15): activities, tasks, owner, edits, My day -----------------
# The lead and the task belong to rep2: for rep a colleague's (403), for rep2 their own. The
# lead is an MQL, a marketing-stage lead a marketer may edit and log on.
WORKDAY_DUE = "2030-01-02T09:00"
ROWS.update(
    {
        "my-day": row(
            "GET", "/my-day/", "page", sales(), why="My day is for sales reps and managers."
        ),
        "lead-activity GET": row("GET", "/leads/{lead}/activities/", "page", post_only()),
        "lead-activity (a colleague's lead)": row(
            "POST",
            "/leads/{lead}/activities/",
            "page",
            (LOGIN, 302, 403, 302, 302, 302),
            data={"kind": "note", "note": "Asked for a call"},
            why=COLLEAGUE,
        ),
        "lead-task GET": row("GET", "/leads/{lead}/tasks/", "page", post_only()),
        "lead-task (a colleague's lead)": row(
            "POST",
            "/leads/{lead}/tasks/",
            "page",
            (LOGIN, 302, 403, 302, 302, 302),
            data={"title": "Call back", "due_at": WORKDAY_DUE},
            why=COLLEAGUE,
        ),
        "lead-owner GET": row("GET", "/leads/{lead}/owner/", "page", post_only()),
        "lead-owner": row(
            "POST",
            "/leads/{lead}/owner/",
            "page",
            managers(302),
            data={"owner": "rep"},
            why="Only managers reassign leads.",
        ),
        "lead-hand-back GET": row("GET", "/leads/{lead}/hand-back/", "page", post_only()),
        "lead-hand-back (a colleague's lead)": row(
            "POST",
            "/leads/{lead}/hand-back/",
            "page",
            (LOGIN, 403, 403, 302, 302, 302),
            why="only its owner or a manager hands it back",
        ),
        "lead-edit GET": row("GET", "/leads/{lead}/edit/", "page", post_only()),
        "lead-edit (a colleague's lead)": row(
            "POST",
            "/leads/{lead}/edit/",
            "page",
            (LOGIN, 302, 403, 302, 302, 302),
            data={"title": "CTO"},
            why=COLLEAGUE,
        ),
        "lead-edit missing": row(
            "POST", "/leads/{missing}/edit/", "page", everyone(404), data={"title": "CTO"}
        ),
        "task-done GET": row("GET", "/tasks/{task}/done/", "page", post_only()),
        "task-done (a colleague's task)": row(
            "POST",
            "/tasks/{task}/done/",
            "page",
            (LOGIN, 302, 403, 302, 302, 302),
            why="a sales rep changes their own tasks",
        ),
        "task-done missing": row("POST", "/tasks/{missing}/done/", "page", everyone(404)),
        "api-lead-activities": row(
            "GET", "/api/leads/{lead}/activities/", "api", everyone(kind="api")
        ),
        "api-lead-activities POST (a colleague's lead)": row(
            "POST",
            "/api/leads/{lead}/activities/",
            "api",
            (401, 201, 403, 201, 201, 201),
            data={"kind": "call", "outcome": "Connected"},
        ),
        "api-lead-activities missing": row(
            "POST",
            "/api/leads/{missing}/activities/",
            "api",
            everyone(404, kind="api"),
            data={"kind": "call"},
        ),
        "api-tasks": row("GET", "/api/tasks/?owner=me&due=overdue", "api", everyone(kind="api")),
        "api-tasks POST (a colleague's lead)": row(
            "POST",
            "/api/tasks/",
            "api",
            (401, 201, 403, 201, 201, 201),
            data={"lead": "{lead}", "title": "Call back", "due_at": WORKDAY_DUE},
        ),
        "api-task": row("GET", "/api/tasks/{task}/", "api", everyone(kind="api")),
        "api-task missing": row("GET", "/api/tasks/{missing}/", "api", everyone(404, kind="api")),
        "api-task PATCH (a colleague's task)": row(
            "PATCH",
            "/api/tasks/{task}/",
            "api",
            (401, 200, 403, 200, 200, 200),
            data={"done": True},
        ),
    }
)


@pytest.fixture
def world(settings, tmp_path, make_lead, marketer, rep, rep2, manager, admin_user):
    """One of each object a route names; the lead and the deal belong to rep2."""
    import io

    from funnel.models import PipelineStage

    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")
    lead = make_lead("mql", owner=rep2, first_name="Ada", company="Globex")
    nurtured = make_lead("nurture")
    suspect = make_lead("suspect")
    unsubscribed = make_lead("mql")
    Lead.objects.filter(pk__in=[nurtured.pk, suspect.pk, unsubscribed.pk]).update(owner=None)
    Lead.objects.filter(pk=unsubscribed.pk).update(do_not_email=True)
    deal_lead = make_lead("opportunity", owner=rep2)
    deal = Opportunity.objects.get(lead=deal_lead)
    Opportunity.objects.filter(pk=deal.pk).update(owner=rep2)
    stages = list(PipelineStage.objects.filter(is_active=True).order_by("order"))
    segment = Segment.objects.create(name="Germans", slug="germans", created_by=marketer)
    campaign = published_campaign(marketer)
    rule = ScoringRule.objects.create(name="Fit", segment=segment, points=10)
    criterion = AcceptanceCriterion.objects.create(kind="has_email", name="Has e-mail")
    job = import_job_create(
        user=marketer, upload=io.BytesIO(b"Email\nann@example.com\n"), file_name="leads.csv"
    )
    asset = ContentAsset.objects.create(
        title="Guide", kind="article", url="https://example.com/guide", aida_stage="interest"
    )
    programme = Programme.objects.create(name="Rejected MQLs", exits=["mql"])
    step = step_add(programme=programme, kind=Step.Kind.EMAIL, subject="Hi", body="Hello.")
    audience = Audience.objects.create(name="Warm leads")
    enrollment = Enrollment.objects.create(lead=lead, programme=programme, from_stage="mql")
    message = Message.objects.create(
        enrollment=enrollment, step=step, lead=lead, to_email=lead.email, subject="Hi"
    )
    from django.utils import timezone

    from funnel.models import Task

    task = Task.objects.create(lead=lead, title="Call back", due_at=timezone.now(), owner=rep2)
    ids = {
        "lead": lead.pk,
        "task": task.pk,
        "lead_email": lead.email,
        "nurtured": nurtured.pk,
        "suspect": suspect.pk,
        "unsubscribed": unsubscribed.pk,
        "deal": deal.pk,
        "stage2": stages[1].slug,
        "missing": MISSING,
        "slug": campaign.slug,
        "capture_token": campaign.capture_token,
        "segment": segment.slug,
        "rule": rule.pk,
        "criterion": criterion.pk,
        "job": job.pk,
        "asset": asset.pk,
        "programme": programme.pk,
        "step": step.pk,
        "audience": audience.pk,
        "open_token": signing.dumps(message.pk, salt=mailing.OPEN_SALT),
        "click_token": signing.dumps(
            [message.pk, "https://example.com/guide"], salt=mailing.CLICK_SALT, compress=True
        ),
        "unsub_token": signing.dumps(message.pk, salt=mailing.UNSUBSCRIBE_SALT),
    }
    users = {
        "anonymous": None,
        "marketer": marketer,
        "rep": rep,
        "rep2": rep2,
        "manager": manager,
        "admin": admin_user,
    }
    return ids, users


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def request_as(user, method, path, kind, data):
    """One request, rolled back afterwards so the next persona finds the same world."""
    caches["capture"].delete(rate_key("127.0.0.1"))
    if kind == "page":
        client = Client()
        if user is not None:
            client.force_login(user)
        call = {"GET": client.get, "HEAD": client.head}.get(method, client.post)
        args = (path, data or {})
    else:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        call = {"GET": client.get, "DELETE": client.delete, "PATCH": client.patch}.get(
            method, client.post
        )
        if kind == "upload":
            upload = SimpleUploadedFile("leads.csv", b"Email\nbo@example.com\n", "text/csv")
            args = (path, {"file": upload}, "multipart")
        else:
            args = (path, data, "json") if method in ("POST", "PATCH") else (path,)
    with transaction.atomic():
        response = call(*args)
        transaction.set_rollback(True)
    return response


def _why(spec, persona) -> str:
    why = spec["why"]
    return why.get(persona, "") if isinstance(why, dict) else why


def check_body(spec, persona, response, path, ids):
    status = response.status_code
    is_api = spec["kind"] != "page"
    public_row = len(set(spec["expect"].values())) == 1
    if is_api and status in (401, 403, 404):
        if response["Content-Type"].startswith("application/vnd.oai.openapi"):
            # the schema view answers in the format asked for: YAML by default
            assert b"code: not_authenticated" in response.content
            return
        body = json.loads(response.content)
        expected_code = {
            401: "not_authenticated" if not public_row else body["code"],
            403: "permission_denied",
            404: "not_found",
        }[status]
        assert body["code"] == expected_code, body
        assert body["detail"]
        if status == 401 and not public_row:
            assert response.has_header("WWW-Authenticate")
    elif status == LOGIN and persona == "anonymous" and not public_row:
        assert response["Location"] == f"/accounts/login/?next={quote(path)}"
    elif status == 403:
        body = response.content.decode()
        why = _why(spec, persona)
        assert why, f"the row must say what the 403 page for {persona} says"
        # The page says why, not just "no".
        assert why in body, body[-800:]
    elif status == 404:
        assert re.search("not found|no such", response.content.decode(), re.I)
    wanted = status == spec["expect"][persona] and status < 400
    if spec["check"] and wanted and (persona != "anonymous" or public_row):
        spec["check"](response, persona, ids)


@pytest.mark.parametrize("name", list(ROWS))
def test_it_answers_every_persona_as_the_matrix_says(world, name):
    spec = ROWS[name]
    ids, users = world
    path = _fill(spec["path"], ids)
    data = _fill(spec["data"], ids)
    wrong = []
    for persona in PERSONAS:
        response = request_as(users[persona], spec["method"], path, spec["kind"], data)
        expected = spec["expect"][persona]
        if response.status_code != expected:
            wrong.append(f"{persona}: {response.status_code}, expected {expected}")
            continue
        check_body(spec, persona, response, path, ids)
    assert not wrong, f"{spec['method']} {path}: " + "; ".join(wrong)


def test_the_matrix_covers_every_route():
    """A route added to any urls module without a row here fails this test."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern) == "admin/":
                    yield "admin/"
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    import re

    def shape(route: str) -> str:
        return "/" + re.sub(r"<[^>]+>", "*", route)

    def row_shape(path: str) -> str:
        path = path.split("?")[0]
        return re.sub(r"\{[a-z_0-9]+\}|no-such-[a-z]+|forged", "*", path)

    covered = {row_shape(spec["path"]) for spec in ROWS.values()}
    routes = {shape(route) for route in walk(get_resolver().url_patterns)}
    missing = sorted(route for route in routes if route not in covered)
    assert not missing, missing
    assert len(ROWS) * len(PERSONAS) >= 600
