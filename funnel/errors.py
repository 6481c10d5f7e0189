"""What the lifecycle service refuses, each with the HTTP status and code the API answers."""


class TransitionError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, errors: dict | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.extra = extra


class InvalidTransition(TransitionError):
    """The request is malformed: unknown stage, missing or bad field, unknown reason."""


class IllegalTransition(TransitionError):
    status = 409
    code = "illegal_transition"


class StaleTransition(TransitionError):
    status = 409
    code = "stale_transition"


class TransitionForbidden(TransitionError):
    status = 403
    code = "permission_denied"


class LeadNotFound(TransitionError):
    status = 404
    code = "not_found"


class AlreadyTaken(TransitionError):
    """Another rep claimed the lead first."""

    status = 409
    code = "already_taken"


class NotClaimable(TransitionError):
    """Claims are for unassigned MQLs (the queue); a lead in another stage is not claimed."""

    status = 409
    code = "not_claimable"
