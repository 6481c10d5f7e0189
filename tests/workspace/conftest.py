import pytest
from django.test import Client

from funnel.models import AcceptanceCriterion


@pytest.fixture
def client_for(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def criterion(db):
    def make(kind, **fields):
        fields.setdefault("name", kind.replace("_", " ").capitalize())
        return AcceptanceCriterion.objects.create(kind=kind, **fields)

    return make


@pytest.fixture
def no_criteria(db):
    AcceptanceCriterion.objects.all().delete()
