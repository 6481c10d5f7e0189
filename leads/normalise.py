"""How a lead is identified: its e-mail (trimmed, case-insensitive) or its external id."""

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate_email = EmailValidator()


def normalise_email(value: str | None) -> str | None:
    """Trim and lower-case; an empty value is no e-mail at all."""
    if value is None:
        return None
    cleaned = value.strip().lower()
    return cleaned or None


def clean_email(value: str | None) -> str | None:
    """Normalise, then validate; raises ValidationError with a readable message."""
    email = normalise_email(value)
    if email is None:
        return None
    try:
        _validate_email(email)
    except ValidationError:
        raise ValidationError(f"{value.strip()!r} is not a valid e-mail address") from None
    return email


def normalise_external_id(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = str(value).strip()
    return cleaned or None
