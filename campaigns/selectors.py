"""Reads for marketing: segments and their members, campaigns and their pages."""

from django.db.models import Count, QuerySet

from leads.models import Lead
from leads.roles import MANAGER, MARKETER, has_role
from leads.stages import Stage

from .models import Campaign, CampaignMembership, CaptureSubmission, Segment
from .segments import conditions_q

SAMPLE_SIZE = 10


def can_read_marketing(user) -> bool:
    return has_role(user, MARKETER, MANAGER)


def can_edit_marketing(user) -> bool:
    return has_role(user, MARKETER, MANAGER)


def segment_leads(*, conditions, match: str = "all") -> QuerySet[Lead]:
    """Leads matching the conditions (validated first: raises ValidationError)."""
    return Lead.objects.filter(conditions_q(conditions, match))


def segment_preview(*, conditions, match: str = "all", sample: int = SAMPLE_SIZE) -> dict:
    """The live count and a sample of the newest matching leads."""
    leads = segment_leads(conditions=conditions, match=match)
    return {
        "count": leads.order_by().count(),
        "sample": list(
            leads.select_related("owner").only(
                "id",
                "email",
                "external_id",
                "first_name",
                "last_name",
                "company",
                "country",
                "stage",
                "owner__username",
                "created_at",
            )[:sample]
        ),
    }


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name")


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("segment", "owner").annotate(
        members=Count("memberships")
    )


def campaign_members_by_stage(campaign: Campaign) -> list[tuple[str, int]]:
    counts = dict.fromkeys(Stage.values, 0)
    rows = (
        Lead.objects.filter(memberships__campaign=campaign)
        .order_by()
        .values("stage")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[row["stage"]] = row["n"]
    return list(counts.items())


def campaign_recent_members(campaign: Campaign, limit: int = 25):
    return (
        CampaignMembership.objects.filter(campaign=campaign)
        .select_related("lead", "lead__owner")
        .order_by("-touched_at", "-id")[:limit]
    )


def campaign_recent_submissions(campaign: Campaign, limit: int = 25):
    return (
        CaptureSubmission.objects.filter(campaign=campaign)
        .select_related("lead")
        .order_by("-at", "-id")[:limit]
    )
