"""A training asked for through the API runs in a real Celery worker, on the imports queue."""

import pytest
from rest_framework.test import APIClient

from campaigns.predictive.models import ScoringModel
from leads.models import LeadPrediction
from tests.services import wait_for

from .synthetic import import_synthetic

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_it_trains_in_the_imports_worker_and_scores_every_lead(
    worker, marketer, settings, tmp_path
):
    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")
    import_synthetic()
    # Only a worker on the heavy queue: the training must be routed there.
    worker(queues=["imports"], HANDOFF_PREDICTIVE_MIN_OUTCOMES="50")
    client = APIClient()
    client.force_authenticate(marketer)
    response = client.post("/api/scoring/model/", {"excluded": ["Noise"]}, format="json")
    assert response.status_code == 202
    wait_for(
        lambda: ScoringModel.objects.filter(status="ready").exists(),
        timeout=120,
        message="the worker trained the model",
    )
    # Then it scores every lead with it.
    wait_for(lambda: LeadPrediction.objects.count() == 420, timeout=60, message="leads scored")
    answer = client.get("/api/scoring/model/").json()
    assert answer["status"] == "ready"
    assert "attributes.Noise" not in answer["features"]
    assert set(LeadPrediction.objects.values_list("model_version", flat=True)) == {
        answer["version"]
    }
