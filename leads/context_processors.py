from .roles import ROLE_LABELS, primary_role, roles_of


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"roles": frozenset(), "role": None, "role_label": ""}
    role = primary_role(user)
    return {"roles": roles_of(user), "role": role, "role_label": ROLE_LABELS.get(role, "")}
