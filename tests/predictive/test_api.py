"""GET/POST /api/scoring/model/, and the probability and reasons in GET /api/leads/{id}/."""

import math

import pytest
from rest_framework.test import APIClient

from campaigns.predictive.models import ScoringModel
from campaigns.predictive.tasks import train_model
from leads.models import Lead, LeadPrediction

from .synthetic import import_synthetic

pytestmark = pytest.mark.django_db

CONTRACT = {
    "status",
    "trained_at",
    "outcome",
    "features",
    "excluded",
    "flagged_leaks",
    "auc",
    "ece",
    "lift",
}


@pytest.fixture(autouse=True)
def _few_outcomes_suffice(settings):
    settings.HANDOFF_PREDICTIVE_MIN_OUTCOMES = 50


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_queued_training() -> ScoringModel:
    model = ScoringModel.objects.get(status=ScoringModel.Status.TRAINING)
    train_model(model.pk)  # the task the worker runs, in this process
    return ScoringModel.objects.get(pk=model.pk)


def test_it_says_too_few_outcomes_and_the_leads_have_no_probability(marketer, rep, settings):
    settings.HANDOFF_PREDICTIVE_MIN_OUTCOMES = 200
    import_synthetic(rows=100)
    answer = client_for(rep).get("/api/scoring/model/").json()
    assert answer["status"] == "too_few_outcomes"
    assert set(answer) >= CONTRACT
    response = client_for(marketer).post("/api/scoring/model/", {}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "training"
    model = run_queued_training()
    assert model.status == "too_few_outcomes"
    assert "at least 200 of each" in model.message
    answer = client_for(rep).get("/api/scoring/model/").json()
    assert answer["status"] == "too_few_outcomes"
    assert "at least 200 of each" in answer["message"]
    lead = Lead.objects.first()
    body = client_for(rep).get(f"/api/leads/{lead.pk}/").json()
    assert body["probability"] is None
    assert body["reasons"] == []


def test_it_trains_on_post_and_answers_the_contract(marketer, rep):
    import_synthetic()
    response = client_for(marketer).post(
        "/api/scoring/model/", {"excluded": ["Noise"]}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "training"
    model = run_queued_training()
    assert model.status == "ready"

    answer = client_for(rep).get("/api/scoring/model/").json()
    assert set(answer) >= CONTRACT
    assert answer["status"] == "ready"
    assert answer["outcome"] == "sql"
    assert answer["excluded"] == ["Noise"]
    assert "attributes.Noise" not in answer["features"]
    assert {"attributes.Budget", "attributes.Plan"} <= set(answer["features"])
    assert answer["auc"] > 0.8
    assert 0 <= answer["ece"] < 0.2
    assert [d["decile"] for d in answer["lift"]] == list(range(1, 11))
    assert answer["lift"][0]["lift"] > answer["lift"][-1]["lift"]
    assert [f["feature"] for f in answer["flagged_leaks"]] == ["attributes.Giveaway"]

    lead = Lead.objects.get(email="p0@example.com")
    body = client_for(rep).get(f"/api/leads/{lead.pk}/").json()
    assert 0 < body["probability"] < 1
    assert all(set(r) == {"feature", "value", "contribution"} for r in body["reasons"])
    prediction = LeadPrediction.objects.get(lead=lead)
    logit = prediction.base + sum(r["contribution"] for r in body["reasons"])
    assert math.isclose(1 / (1 + math.exp(-logit)), body["probability"], abs_tol=1e-4)


def test_it_refuses_training_to_reps_and_bad_bodies(marketer, rep, manager):
    response = client_for(rep).post("/api/scoring/model/", {}, format="json")
    assert response.status_code == 403
    assert "marketer or manager" in response.json()["detail"]
    response = client_for(marketer).post("/api/scoring/model/", {"excluded": "Tags"}, format="json")
    assert response.status_code == 400
    assert "excluded" in response.json()["detail"]
    response = client_for(marketer).post(
        "/api/scoring/model/", {"outcome": "revenue"}, format="json"
    )
    assert response.status_code == 400
    response = client_for(marketer).post("/api/scoring/model/", {"bogus": 1}, format="json")
    assert response.status_code == 400
    assert not ScoringModel.objects.exists()
    assert client_for(manager).post("/api/scoring/model/", {}, format="json").status_code == 202
    again = client_for(marketer).post("/api/scoring/model/", {}, format="json")
    assert again.status_code == 409
    assert "is training" in again.json()["detail"]


def test_it_marks_a_training_that_fails_as_failed(marketer, monkeypatch):
    import_synthetic()
    model = client_for(marketer).post("/api/scoring/model/", {}, format="json")
    assert model.status_code == 202

    def broken(*args, **kwargs):
        raise ValueError("no memory left")

    # The service imports the learner when it trains: the learner's own name is the one it calls.
    monkeypatch.setattr("campaigns.predictive.learner.train", broken)
    with pytest.raises(ValueError):
        run_queued_training()
    failed = ScoringModel.objects.get()
    assert failed.status == "failed"
    assert "no memory left" in failed.message
    assert client_for(marketer).get("/api/scoring/model/").json()["status"] == "too_few_outcomes"
    # Another training may start: nothing is left "training".
    assert client_for(marketer).post("/api/scoring/model/", {}, format="json").status_code == 202
