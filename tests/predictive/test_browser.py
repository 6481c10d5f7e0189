"""The model page and a lead's predicted chance in headless Chromium, checked by axe-core."""

import pytest

from campaigns.predictive.services import scoring_model_request
from campaigns.predictive.tasks import train_model
from leads.models import Lead, LeadPrediction
from tests.conftest import log_in
from tests.e2e.axe import severe_violations

from .synthetic import import_synthetic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_reads_the_model_and_a_rep_the_reasons(page, settings, marketer, rep, tmp_path):
    settings.HANDOFF_PREDICTIVE_MIN_OUTCOMES = 50
    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")
    import_synthetic()
    model = scoring_model_request(excluded=["Noise", "Giveaway"])
    train_model(model.pk)

    log_in(page, "marketer")
    page.goto("/scoring/model/")
    assert page.get_by_role("heading", name=f"Model v{model.version}").is_visible()
    assert page.get_by_role("img", name="Calibration: predicted against observed rate").is_visible()
    assert page.get_by_role("img", name="Lift by decile").first.is_visible()
    assert page.get_by_role("button", name="Train now").is_visible()
    assert severe_violations(page) == []

    page.get_by_label("Excluded fields").fill("Noise\nGiveaway\nPlan")
    page.get_by_role("button", name="Train now").click()
    assert page.get_by_text(f"Training model v{model.version + 1}").is_visible()

    page.context.clear_cookies()
    log_in(page, "rep")
    lead = Lead.objects.get(email="p3@example.com")
    prediction = LeadPrediction.objects.get(lead=lead)
    page.goto(f"/leads/{lead.pk}/")
    card = page.locator("section.prediction")
    assert f"{prediction.percent}%" in card.inner_text()
    top = prediction.top_reasons[0]
    assert card.get_by_role("cell", name=top["feature"], exact=True).is_visible()
    assert severe_violations(page) == []
