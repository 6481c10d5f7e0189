import pytest

from campaigns.models import Campaign


def published_campaign(created_by) -> Campaign:
    """The campaign whose landing page the hardening tests visit, post to and fuzz."""
    return Campaign.objects.create(
        name="Spring webinar",
        slug="spring-webinar",
        channel="webinar",
        created_by=created_by,
        capture_published=True,
        capture_headline="Join the spring webinar",
        capture_fields=["first_name"],
    )


@pytest.fixture
def campaign(marketer):
    return published_campaign(marketer)
