"""The segment condition engine: conditions over lead fields and attributes, as ORM Q objects.

A condition is `{"field", "operator", "value"}`; a segment combines its conditions with all
(AND) or any (OR). `conditions_clean` validates what a person or a client sent and returns
the normal form that is stored; `conditions_q` turns the normal form into one Q, so a count
or a sample runs as a single SQL query however many leads there are.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Case, F, FloatField, Q, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import (
    Exact,
    GreaterThanOrEqual,
    IContains,
    IExact,
    In,
    IsNull,
    LessThanOrEqual,
    Regex,
)

from leads import fields as lead_fields
from leads.stages import Stage

TEXT, NUMBER, BOOLEAN, CHOICE, DATE, OWNER, ATTRIBUTE = (
    "text",
    "number",
    "boolean",
    "choice",
    "date",
    "owner",
    "attribute",
)

# Lead fields a condition may name (leads.fields: segmentable), with their kind, grouped
# by kind in this order.
_KIND_OF = {
    lead_fields.EMAIL: TEXT,
    lead_fields.TEXT: TEXT,
    lead_fields.INTEGER: NUMBER,
    lead_fields.BOOLEAN: BOOLEAN,
    lead_fields.CHOICE: CHOICE,
    lead_fields.USER: OWNER,
    lead_fields.DATETIME: DATE,
}
_KIND_ORDER = (TEXT, NUMBER, BOOLEAN, CHOICE, OWNER, DATE)
FIELDS: dict[str, str] = dict(
    sorted(
        ((name, _KIND_OF[lead_fields.FIELD[name].kind]) for name in lead_fields.SEGMENTABLE),
        key=lambda item: _KIND_ORDER.index(item[1]),
    )
)
ATTRIBUTE_PREFIX = "attributes."

OPERATORS: dict[str, str] = {
    "equals": "equals",
    "in": "is one of",
    "contains": "contains",
    "at_least": "at least",
    "at_most": "at most",
    "present": "is present",
}
OPERATORS_FOR: dict[str, tuple[str, ...]] = {
    TEXT: ("equals", "in", "contains", "present"),
    NUMBER: ("equals", "in", "at_least", "at_most", "present"),
    BOOLEAN: ("equals",),
    CHOICE: ("equals", "in"),
    DATE: ("at_least", "at_most"),
    OWNER: ("equals", "in", "present"),
    ATTRIBUTE: ("equals", "in", "contains", "at_least", "at_most", "present"),
}

MAX_CONDITIONS = 20
MAX_VALUES = 100
MAX_VALUE_LENGTH = 255
_ATTRIBUTE_KEY = re.compile(r"^[^\x00-\x1f]{1,64}$")  # passed as a query parameter, never as SQL
_NUMERIC = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: object

    @property
    def kind(self) -> str:
        return ATTRIBUTE if self.field.startswith(ATTRIBUTE_PREFIX) else FIELDS[self.field]

    def describe(self) -> str:
        value = self.value
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if self.operator == "present":
            return f"{self.field} is present"
        return f"{self.field} {OPERATORS[self.operator]} {value}"


def field_kind(field: str) -> str | None:
    if field.startswith(ATTRIBUTE_PREFIX):
        key = field[len(ATTRIBUTE_PREFIX) :]
        return ATTRIBUTE if _ATTRIBUTE_KEY.match(key) else None
    return FIELDS.get(field)


def _scalar(kind: str, raw, where: str):
    text = str(raw).strip() if raw is not None else ""
    if not text:
        raise ValidationError(f"{where}: give a value.")
    if len(text) > MAX_VALUE_LENGTH:
        raise ValidationError(f"{where}: keep values under {MAX_VALUE_LENGTH} characters.")
    if kind == NUMBER:
        try:
            number = float(text)
        except ValueError:
            raise ValidationError(f"{where}: {text!r} is not a number.") from None
        if number != number or abs(number) > 1e15:  # NaN or absurd
            raise ValidationError(f"{where}: {text!r} is not a usable number.")
        return int(number) if number.is_integer() else number
    if kind == BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValidationError(f"{where}: use yes or no.")
    if kind == CHOICE:
        if text.lower() not in Stage.values:
            raise ValidationError(f"{where}: {text!r} is not a stage ({', '.join(Stage.values)}).")
        return text.lower()
    if kind == DATE:
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValidationError(f"{where}: {text!r} is not a date (YYYY-MM-DD).") from None
    return text


def condition_clean(raw, position: int = 1) -> Condition:
    """One condition in normal form, or ValidationError saying what is wrong with it."""
    where = f"Condition {position}"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: expected an object with field, operator and value.")
    field = str(raw.get("field") or "").strip()
    operator = str(raw.get("operator") or "").strip().lower().replace(" ", "_")
    kind = field_kind(field)
    if kind is None:
        known = ", ".join(FIELDS)
        raise ValidationError(
            f"{where}: {field!r} is not a lead field; use one of {known}, "
            f"or {ATTRIBUTE_PREFIX}<name> for an imported attribute."
        )
    if operator not in OPERATORS:
        raise ValidationError(
            f"{where}: {operator!r} is not an operator; use one of {', '.join(OPERATORS)}."
        )
    if operator not in OPERATORS_FOR[kind]:
        allowed = ", ".join(OPERATORS_FOR[kind])
        raise ValidationError(f"{where}: {field} cannot use {operator}; use {allowed}.")
    value = raw.get("value")
    value_kind = NUMBER if operator in ("at_least", "at_most") and kind == ATTRIBUTE else kind
    if operator == "present":
        value = True
    elif operator == "in":
        items = value if isinstance(value, list) else str(value or "").split(",")
        items = [item for item in items if str(item).strip()]
        if not items:
            raise ValidationError(f"{where}: give one or more values, separated by commas.")
        if len(items) > MAX_VALUES:
            raise ValidationError(f"{where}: at most {MAX_VALUES} values.")
        value = [_scalar(value_kind, item, where) for item in items]
    else:
        if isinstance(value, list | dict):
            raise ValidationError(f"{where}: {operator} takes one value.")
        value = _scalar(value_kind, value, where)
    return Condition(field=field, operator=operator, value=value)


def conditions_clean(raw) -> list[dict]:
    """Validate a list of conditions; the stored normal form. Raises ValidationError."""
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ValidationError("Conditions must be a list.")
    if len(raw) > MAX_CONDITIONS:
        raise ValidationError(f"A segment has at most {MAX_CONDITIONS} conditions.")
    cleaned = [condition_clean(item, index) for index, item in enumerate(raw, start=1)]
    return [{"field": c.field, "operator": c.operator, "value": c.value} for c in cleaned]


def match_clean(match) -> str:
    match = str(match or "all").strip().lower()
    if match not in ("all", "any"):
        raise ValidationError("Match must be all or any.")
    return match


def _upper_in(expression, values) -> Q:
    """Case-insensitive "is one of": one UPPER() per row and an IN list, which PostgreSQL
    evaluates much faster over a million rows than an OR of case-insensitive equals."""
    return Q(In(Upper(expression), [Upper(Value(str(item))) for item in values]))


def _text_q(field: str, operator: str, value) -> Q:
    if operator == "equals":
        return Q(**{f"{field}__iexact": value})
    if operator == "in":
        return _upper_in(F(field), value)
    if operator == "contains":
        return Q(**{f"{field}__icontains": value})
    # present: a value that is not empty (e-mail is NULL where absent, the others "").
    return Q(**{f"{field}__isnull": False}) & ~Q(**{field: ""})


def _attribute_q(key: str, operator: str, value) -> Q:
    text = KeyTextTransform(key, "attributes")
    if operator == "present":
        return Q(IsNull(text, False)) & ~Q(Exact(text, ""))
    if operator == "equals":
        return Q(IExact(text, str(value)))
    if operator == "in":
        return _upper_in(text, value)
    if operator == "contains":
        return Q(IContains(text, str(value)))
    # Imported attributes are text: compare as numbers only where the text is a number, so a
    # stray "n/a" in a million rows neither matches nor breaks the cast.
    number = Case(
        When(Regex(KeyTextTransform(key, "attributes"), _NUMERIC), then=Cast(text, FloatField())),
        default=Value(None),
        output_field=FloatField(),
    )
    lookup = GreaterThanOrEqual if operator == "at_least" else LessThanOrEqual
    return Q(lookup(number, float(value)))


def condition_q(condition: Condition) -> Q:
    field, operator, value = condition.field, condition.operator, condition.value
    kind = condition.kind
    if kind == ATTRIBUTE:
        return _attribute_q(field[len(ATTRIBUTE_PREFIX) :], operator, value)
    if kind == TEXT:
        return _text_q(field, operator, value)
    if kind == OWNER:
        if operator == "present":
            return Q(owner__isnull=False)
        names = value if isinstance(value, list) else [value]
        return Q(owner__username__in=names)
    if kind == DATE:
        day = dt.date.fromisoformat(value)
        lookup = "gte" if operator == "at_least" else "lte"
        return Q(**{f"{field}__date__{lookup}": day})
    if operator == "equals":
        return Q(**{field: value})
    if operator == "in":
        return Q(**{f"{field}__in": value})
    if operator == "at_least":
        return Q(**{f"{field}__gte": value})
    if operator == "at_most":
        return Q(**{f"{field}__lte": value})
    return Q(**{f"{field}__isnull": False})


def conditions_q(conditions, match: str = "all") -> Q:
    """One Q for the whole segment; validates first, so stored data can never break a query.

    No conditions match every lead.
    """
    cleaned = [condition_clean(raw, index) for index, raw in enumerate(conditions or [], start=1)]
    combined = Q()
    for condition in cleaned:
        part = condition_q(condition)
        combined = (combined | part) if match == "any" and combined else (combined & part)
    return combined


def conditions_describe(conditions, match: str = "all") -> str:
    parts = [
        condition_clean(raw, index).describe()
        for index, raw in enumerate(conditions or [], start=1)
    ]
    if not parts:
        return "every lead"
    return f" {'or' if match == 'any' else 'and'} ".join(parts)
