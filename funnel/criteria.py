"""Acceptance criteria an MQL is checked against (managers define them).

`criteria_results(lead)` evaluates every active criterion; the queue, the lead page, the
API and the accept / reject log rows all show or store its answer. Evaluation is pure
Python over the lead's fields, so a page can evaluate many leads against one list of
criteria without a query per lead.
"""

import re
from collections.abc import Callable, Iterable

from leads.models import Lead

from .models import AcceptanceCriterion

Kind = AcceptanceCriterion.Kind

FREE_MAIL_DOMAINS = [
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "protonmail.com",
    "proton.me",
    "zoho.com",
    "qq.com",
    "163.com",
    "free.fr",
    "orange.fr",
    "laposte.net",
    "libero.it",
]

# Set by the app that owns segments (campaigns): (lead, criterion) -> (passed, detail).
# Until one is registered, "in segment" criteria are shown as not evaluated.
_segment_check: Callable[[Lead, AcceptanceCriterion], tuple[bool, str]] | None = None


def register_segment_check(check: Callable[[Lead, AcceptanceCriterion], tuple[bool, str]]):
    global _segment_check
    _segment_check = check


def active_criteria() -> list[AcceptanceCriterion]:
    return list(AcceptanceCriterion.objects.filter(is_active=True))


def _text(lead: Lead, field: str) -> str:
    value = getattr(lead, field, None) if field else None
    return "" if value is None else str(value).strip()


def _listed(values: Iterable) -> list[str]:
    return [str(v).strip().lower() for v in values or [] if str(v).strip()]


def evaluate(criterion: AcceptanceCriterion, lead: Lead) -> tuple[bool | None, str]:
    """(passed, detail); passed is None when the criterion cannot be evaluated."""
    kind, field = criterion.kind, criterion.field
    label = criterion.get_field_display() if field else ""
    if kind == Kind.BUSINESS_EMAIL:
        email = (lead.email or "").lower()
        if "@" not in email:
            return False, "No e-mail address."
        domain = email.rsplit("@", 1)[1]
        free = set(_listed(criterion.values))
        if domain in free:
            return False, f"{domain} is a free-mail domain."
        return True, f"{domain} is a business domain."
    if kind == Kind.IN_LIST:
        value = _text(lead, field)
        if not value:
            return False, f"No {label.lower()}."
        if value.lower() in set(_listed(criterion.values)):
            return True, f"{label} {value} is in the list."
        return False, f"{label} {value} is not in the list."
    if kind == Kind.AT_LEAST:
        raw = getattr(lead, field, None) if field else None
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return False, f"No {label.lower()}."
        threshold = criterion.number or 0
        shown = int(number) if number.is_integer() else number
        if number >= threshold:
            return True, f"{label} {shown} is at least {threshold}."
        return False, f"{label} {shown} is below {threshold}."
    if kind == Kind.CONTAINS_ANY:
        value = _text(lead, field)
        if not value:
            return False, f"No {label.lower()}."
        for keyword in _listed(criterion.values):
            if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", value, re.IGNORECASE):
                return True, f"{label} contains {keyword!r}."
        return False, f"{label} {value!r} contains none of the keywords."
    if kind == Kind.PRESENT:
        if _text(lead, field):
            return True, f"{label} is present."
        return False, f"{label} is missing."
    if kind == Kind.IN_SEGMENT:
        if _segment_check is None:
            return None, "Not evaluated: campaign segments do not exist yet."
        return _segment_check(lead, criterion)
    return None, f"Unknown kind {kind!r}."


def criteria_results(
    lead: Lead, *, criteria: list[AcceptanceCriterion] | None = None
) -> list[dict]:
    """Each criterion as {"name", "passed", "required", "detail"}.

    Pass `criteria` (from `active_criteria()`) to evaluate many leads with one query.
    """
    if criteria is None:
        criteria = active_criteria()
    results = []
    for criterion in criteria:
        passed, detail = evaluate(criterion, lead)
        results.append(
            {
                "name": criterion.name,
                "passed": passed,
                "required": criterion.required,
                "detail": detail,
            }
        )
    return results


def meets_required(results: list[dict]) -> bool:
    """No required criterion failed (one not evaluated does not count against the lead)."""
    return not any(r["required"] and r["passed"] is False for r in results)


def clean_values(text: str) -> list[str]:
    """A manager's list, one item a line or separated by commas, without blanks or repeats."""
    items = re.split(r"[\n,;]+", text or "")
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))
