"""X Education's Leads.csv, imported and trained as a marketer would: the issue's targets."""

import math

import pytest

from campaigns.predictive.models import ScoringModel
from campaigns.predictive.services import scoring_model_request
from campaigns.predictive.tasks import train_model
from leads.models import OTHER_FEATURES, LeadPrediction

from .conftest import LEAKS, import_x_education

pytestmark = pytest.mark.django_db


def train(excluded):
    model = scoring_model_request(excluded=excluded)
    train_model(model.pk)  # the task's body, in this process, as the worker runs it
    return ScoringModel.objects.get(pk=model.pk)


def test_it_meets_the_targets_with_the_leaking_columns_excluded(marketer):
    job = import_x_education(marketer)
    assert job.created == 9240
    model = train(LEAKS)
    assert model.status == "ready"
    assert model.auc >= 0.88
    assert model.ece <= 0.05
    for leak in LEAKS:
        assert f"attributes.{leak}" not in model.features
    assert "attributes.Total Time Spent on Website" in model.features
    assert model.flagged_leaks == []
    # Every lead scored, its reasons summing with the base to its score.
    assert LeadPrediction.objects.count() == 9240
    for prediction in LeadPrediction.objects.order_by("?")[:50]:
        logit = prediction.base + sum(r["contribution"] for r in prediction.reasons)
        assert math.isclose(1 / (1 + math.exp(-logit)), prediction.probability, abs_tol=1e-5)
        assert prediction.reasons[-1]["feature"] == OTHER_FEATURES
    lift = [d["lift"] for d in model.lift]
    assert lift[0] > 2 and lift[-1] < 0.5


def test_it_flags_a_leaking_column_left_in(marketer):
    import_x_education(marketer)
    model = train([leak for leak in LEAKS if leak != "Tags"])
    assert [f["feature"] for f in model.flagged_leaks] == ["attributes.Tags"]
