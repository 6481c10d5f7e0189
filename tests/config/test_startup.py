"""Starting a process costs no scientific stack. numpy, scipy and scikit-learn take about a
second to import; every web worker, Celery worker and `manage.py import_leads` would pay it
before doing anything, though only training and scoring a predictive model use them. The
check runs in a fresh interpreter: this one has imported them already, for other tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "scipy", "sklearn", "joblib")

# What a web process, a worker and a management command import as they start: the settings and
# apps (the admin's autodiscovery with them), every view through the URLconf, the API schema,
# the Celery app with every app's tasks, the import command. Then the learner, as a training
# would, to show the check sees the stack once something loads it.
STARTUP = f"""
import json, sys
import django

django.setup()

from django.core.management import load_command_class
from django.urls import get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator

import config.urls
from config.celery import app

resolver = get_resolver()
resolver.resolve("/scoring/model/")
resolver.resolve(reverse("api-scoring-model"))
schema = SchemaGenerator().get_schema(request=None, public=True)
app.loader.import_default_modules()
load_command_class("campaigns.imports", "import_leads")
started = sorted(name for name in {HEAVY!r} if name in sys.modules)

import campaigns.predictive.learner

print(json.dumps({{
    "started": started,
    "training": sorted(name for name in {HEAVY!r} if name in sys.modules),
    "tasks": sorted(name for name in app.tasks if name.startswith("predictive.")),
    "modules": sorted(name for name in sys.modules if name.startswith("campaigns.predictive")),
    "schema_paths": sorted(schema["paths"]),
}}))
"""


def _start() -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", STARTUP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_starts_every_kind_of_process_without_the_scientific_stack():
    seen = _start()
    # The predictive app's URLs, API view, schema and tasks were all loaded...
    assert "/api/scoring/model/" in seen["schema_paths"]
    assert seen["tasks"] == [
        "predictive.score_pending",
        "predictive.train",
        "predictive.train_nightly",
    ]
    for module in ("api", "views", "services", "selectors", "tasks"):
        assert f"campaigns.predictive.{module}" in seen["modules"]
    # ...without numpy, scipy, scikit-learn or joblib.
    assert seen["started"] == []
    # A training imports them: the check above would have seen them.
    assert seen["training"] == ["joblib", "numpy", "scipy", "sklearn"]
