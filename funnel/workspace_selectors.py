"""Reads the lead page takes from the sales workspace: criteria and the SLA clock."""

from django.utils import timezone

from leads.models import Lead
from leads.stages import Stage

from .criteria import criteria_results, meets_required
from .models import WorkspaceSettings
from .sla import imported_stay, sla_clock


def lead_workspace_context(lead: Lead, *, now=None) -> dict:
    if lead.stage != Stage.MQL:
        return {"criteria": None, "clock": None}
    results = criteria_results(lead)
    hours = WorkspaceSettings.load().sla_hours
    return {
        "criteria": results,
        "meets_required": meets_required(results),
        "clock": sla_clock(
            lead.stage_changed_at,
            hours=hours,
            now=now or timezone.now(),
            imported=Lead.objects.filter(pk=lead.pk).filter(imported_stay()).exists(),
        ),
    }
