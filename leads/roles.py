"""Roles are Django groups. A superuser counts as admin; admin can do what a manager can."""

from django.contrib.auth.models import AnonymousUser, User

MARKETER = "marketer"
SALES_REP = "sales_rep"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (MARKETER, SALES_REP, MANAGER, ADMIN)
ROLE_LABELS = {
    MARKETER: "Marketer",
    SALES_REP: "Sales rep",
    MANAGER: "Manager",
    ADMIN: "Admin",
}


def roles_of(user: User | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_handoff_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(ADMIN)
        if ADMIN in names:
            # Admins run the installation: they may do whatever a manager may.
            names.add(MANAGER)
        cached = frozenset(names)
        user._handoff_roles = cached
    return cached


def has_role(user: User | AnonymousUser, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def is_manager(user: User | AnonymousUser) -> bool:
    return has_role(user, MANAGER)


def primary_role(user: User | AnonymousUser) -> str | None:
    """The role that picks the user's home page: the most senior one they hold."""
    held = roles_of(user)
    for role in (ADMIN, MANAGER, SALES_REP, MARKETER):
        if role in held:
            return role
    return None
