import pytest
from django.core.cache import caches

from campaigns.capture import rate_key
from campaigns.models import Campaign


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    """Every test client posts from 127.0.0.1: start each test with an empty window."""
    caches["capture"].delete(rate_key("127.0.0.1"))
    yield
    caches["capture"].delete(rate_key("127.0.0.1"))


@pytest.fixture
def make_campaign(db, marketer):
    def make(slug: str = "spring-webinar", **fields):
        fields.setdefault("name", slug.replace("-", " ").title())
        fields.setdefault("channel", "webinar")
        fields.setdefault("capture_published", True)
        fields.setdefault("capture_headline", "Join the spring webinar")
        fields.setdefault("positioning", "For revenue teams who hand leads over every day.")
        fields.setdefault("capture_fields", ["first_name", "last_name", "company"])
        return Campaign.objects.create(slug=slug, created_by=marketer, **fields)

    return make


@pytest.fixture
def campaign(make_campaign):
    return make_campaign()
