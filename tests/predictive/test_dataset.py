"""What the model learns from: outcomes from the log, engagement before the decision only,
the first campaign, attributes typed by their values."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignMembership, EngagementEvent
from campaigns.predictive.dataset import attribute_specs, build_table
from funnel.services import transition_lead
from leads.models import Lead

pytestmark = pytest.mark.django_db


def column(table, name):
    return {c.name: c for c in table.columns}[name]


def test_it_labels_from_the_log_and_counts_engagement_before_the_decision(make_lead, manager):
    won = make_lead("sql")
    rejected = make_lead("mql")
    open_lead = make_lead("mql")
    transition_lead(lead_id=rejected.pk, to="nurture", actor=manager, reason="no_budget")
    decided_at = rejected.transitions.get(to_stage="nurture").at
    for lead in (rejected, open_lead):
        EngagementEvent.objects.create(
            lead=lead, kind="form_submitted", points=50, at=decided_at - dt.timedelta(days=1)
        )
        EngagementEvent.objects.create(
            lead=lead, kind="form_submitted", points=50, at=decided_at + dt.timedelta(days=1)
        )
    webinar = Campaign.objects.create(name="Webinar", slug="webinar", channel="webinar")
    ads = Campaign.objects.create(name="Ads", slug="ads", channel="paid_search")
    now = timezone.now()
    CampaignMembership.objects.create(lead=won, campaign=ads, joined_at=now)
    CampaignMembership.objects.create(
        lead=won, campaign=webinar, joined_at=now - dt.timedelta(days=3)
    )

    table = build_table(outcome="sql", specs=[], now=decided_at + dt.timedelta(days=2))
    row = {lead_id: i for i, lead_id in enumerate(table.ids.tolist())}
    assert table.label[row[won.pk]] == 1
    assert table.label[row[rejected.pk]] == 0
    assert table.label[row[open_lead.pk]] == -1
    forms = column(table, "engagement.form_submitted").values
    assert forms[row[rejected.pk]] == 1  # the one after the rejection is not known at it
    assert forms[row[open_lead.pk]] == 2  # undecided: everything up to now
    campaign = column(table, "campaign")
    assert campaign.levels[campaign.values[row[won.pk]]] == "webinar"  # the first one
    channel = column(table, "channel")
    assert channel.levels[channel.values[row[won.pk]]] == "webinar"


def test_it_types_attributes_and_leaves_identifiers_out(db):
    for i in range(60):
        Lead.objects.create(
            email=f"a{i}@example.com",
            attributes={
                "Lead Number": str(660000 + i),
                "Minutes": str(i * 7 % 50),
                "Plan": ["free", "pro"][i % 2],
                "Comment": f"free text number {i}",
            },
        )
    specs = {spec.key: spec.kind for spec in attribute_specs()}
    assert specs == {"Minutes": "numeric", "Plan": "categorical"}
    table = build_table(outcome=None, specs=attribute_specs())
    minutes = column(table, "attributes.Minutes").values
    assert np.nanmax(minutes) == 49
