"""Django model permissions for the roles' use of the admin site.

Handoff's own pages and API check roles directly (`leads.roles`); these permissions
only decide what each group may edit in the Django admin.
"""

from django.contrib.auth.models import Group, Permission

from leads.roles import ADMIN, MANAGER, ROLES

MANAGER_MODELS = {
    "funnel": [
        "reasoncode",
        "pipelinestage",
        "acceptancecriterion",
        "territoryrule",
        "workspacesettings",
    ]
}


def grant_role_permissions(sender=None, **kwargs) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    for app_label, models in MANAGER_MODELS.items():
        permissions = Permission.objects.filter(
            content_type__app_label=app_label, content_type__model__in=models
        )
        groups[MANAGER].permissions.add(*permissions)
    groups[ADMIN].permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["auth", "leads", "funnel", "campaigns", "authtoken"]
        ).exclude(content_type__model="transition", codename__regex=r"^(add|change|delete)_")
    )
