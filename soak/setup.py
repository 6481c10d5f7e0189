"""What the soak needs in the database before the clients start, made through the services."""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from campaigns.models import Campaign
from campaigns.nurture.models import Programme, Step
from funnel.models import WorkspaceSettings
from funnel.services import lead_create, transition_lead
from leads.roles import MANAGER, MARKETER, SALES_REP

PASSWORD = "soak-dev-only-password-1"  # noqa: S105 - a throwaway database's users
REPS = 4
MARKETERS = 2


@dataclass
class Cast:
    """Who plays and what they play with: tokens by username, campaigns, the lead pool."""

    tokens: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    campaigns: dict[str, str] = field(default_factory=dict)  # slug -> capture token
    leads: dict[int, dict] = field(default_factory=dict)  # id -> {stage, owner, email}

    def of_role(self, role: str) -> list[str]:
        return [name for name, held in self.roles.items() if held == role]


def _user(username: str, role: str, cast: Cast):
    user = get_user_model().objects.create_user(
        username, password=PASSWORD, email=f"{username}@soak.example"
    )
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    cast.tokens[username] = Token.objects.create(user=user).key
    cast.roles[username] = role
    return user


def soak_setup(*, leads: int = 400) -> Cast:
    cast = Cast()
    # Round robin would hand MQLs to reps behind the clients' backs; the clients pick owners.
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": False})
    for number in range(1, REPS + 1):
        _user(f"soak-rep{number}", SALES_REP, cast)
    for number in range(1, MARKETERS + 1):
        _user(f"soak-marketer{number}", MARKETER, cast)
    manager = _user("soak-manager", MANAGER, cast)
    for slug in ("soak-webinar", "soak-ebook", "soak-search"):
        campaign = Campaign.objects.create(
            name=slug.replace("-", " ").title(),
            slug=slug,
            channel="webinar",
            utm_source=slug.split("-")[1],
            capture_published=True,
            capture_fields=["first_name", "company"],
            created_by=manager,
        )
        cast.campaigns[slug] = campaign.capture_token
    programme = Programme.objects.create(
        name="Soak: back in touch", exits=["mql", "sal", "sql", "opportunity"], priority=1
    )
    # Two e-mails and no wait: every enrollment sends both within the soak, or is recycled.
    for position, subject in enumerate(("Still looking, {{ lead.first_name }}?", "One more idea")):
        Step.objects.create(
            programme=programme,
            position=position,
            kind=Step.Kind.EMAIL,
            subject=subject,
            body="Hello {{ lead.first_name }}, here is what others in your place did.",
        )
    for number in range(leads):
        email = f"pool{number}@soak.example"
        lead = lead_create(
            system_actor="soak setup",
            fields={"email": email, "first_name": f"Pool{number}", "company": "Soak Ltd"},
        )
        if number % 2:  # half start as MQLs, the queue the reps work
            transition_lead(lead_id=lead.pk, to="mql", system_actor="soak setup")
        cast.leads[lead.pk] = {"stage": "mql" if number % 2 else "suspect", "owner": None}
        cast.leads[lead.pk]["email"] = email
    return cast
