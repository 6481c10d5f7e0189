"""The queue settings page saves with its blank extra territory row left blank, as rendered."""

import re

import pytest

from funnel.models import TerritoryRule, WorkspaceSettings

pytestmark = pytest.mark.django_db


def test_a_manager_saves_the_sla_without_adding_a_territory(client_for, manager):
    client = client_for(manager)
    page = client.get("/queue/settings/").content.decode()
    # Post back the page's own fields as a browser would (the blank extra row included).
    data = dict(
        re.findall(r'<input type="(?:hidden|text|number)" name="([^"]+)" value="([^"]*)"', page)
    )
    data.update({"sla_hours": "12", "round_robin": "on", "territory-0-is_active": "on"})
    assert data["territory-TOTAL_FORMS"] == "1"
    response = client.post("/queue/settings/", data)
    assert response.status_code == 302, re.findall(
        r'class="error[^"]*">([^<]+)', response.content.decode()
    )
    assert WorkspaceSettings.load().sla_hours == 12
    assert not TerritoryRule.objects.exists()
