"""One data row of a file, cleaned into lead values, or the reasons it cannot be imported."""

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone

from leads.fields import LEAD_FIELDS, TOUCH, TOUCH_IMPORT_FIELDS

from .mapping import (
    ATTRIBUTE,
    DEFAULT_VALUES,
    IGNORE,
    STAGE_DATE_TARGETS,
    STORY_TARGETS,
    normalise_header,
)

TRUE_VALUES = {"yes", "y", "true", "t", "1", "x", "on"}
FALSE_VALUES = {"no", "n", "false", "f", "0", "off"}
# What other tools export for "nothing chosen": a blank for a lead field (attributes keep it).
PLACEHOLDERS = {"select", "n/a", "null", "#n/a"}
_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_NUMERIC = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
# A cheap shape check first: most addresses pass, and only those reach Django's validator.
_EMAIL_SHAPE = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
_validate_email = EmailValidator()
# Text targets and their lengths: the lead's fields and a touch's (utm_*, gclid).
_MAX_LENGTH = {
    **{f.name: f.max_length for f in LEAD_FIELDS if f.max_length and f.importable},
    **{name: TOUCH[name].max_length for name in TOUCH_IMPORT_FIELDS},
}
# Stages whose lead has a deal: an import tells their story row by row (funnel.imports).
DEAL_STAGES = ("opportunity", "customer")
_AMOUNT_JUNK = re.compile(r"[\s$€£¥,]|^(usd|eur|gbp)|(usd|eur|gbp)$", re.IGNORECASE)
MAX_AMOUNT = Decimal("999999999999.99")


def parse_amount(value: str) -> Decimal:
    """A deal amount: 12,500.00, $12500, 12500 EUR. Raises ValueError."""
    try:
        amount = Decimal(_AMOUNT_JUNK.sub("", value))
    except InvalidOperation:
        raise ValueError from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise ValueError
    return amount.quantize(Decimal("0.01"))


def stage_entry(entry) -> tuple[str, dict]:
    """A stage value's mapping as (stage, story keys): a stage, or an outcome object."""
    if isinstance(entry, dict):
        story = {k: str(entry[k]) for k in ("reached", "reason", "pipeline_stage") if entry.get(k)}
        if story.get("reached") == entry["stage"]:
            del story["reached"]
        return str(entry["stage"]), story
    return str(entry), {}


# PositiveIntegerField's ceiling on PostgreSQL.
MAX_COMPANY_SIZE = 2_147_483_647
# Plain text fields and their lengths (e-mail has its own checks).
_TEXT_LIMIT = {name: length for name, length in _MAX_LENGTH.items() if name != "email"}


@dataclass
class CleanRow:
    line: int
    values: dict  # lead fields with a value (blank cells leave a field alone)
    stage: str
    stage_at: dt.datetime | None
    errors: list[tuple[str, str]]  # (column, message)
    # The lead's story beyond its last stage, or None: reached, reason, pipeline_stage,
    # created_at (ISO), amount, deal_owner, close_date (ISO). See funnel.imports.
    story: dict | None = None

    @property
    def ident(self) -> str | None:
        email = self.values.get("email")
        if email:
            return f"e:{email}"
        external_id = self.values.get("external_id")
        return f"x:{external_id}" if external_id else None


def parse_when(value: str, dayfirst: bool) -> dt.datetime:
    """A date or date-time as an aware datetime; raises ValueError."""
    match = _ISO.match(value)
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
        hour, minute, second = int(match[4] or 0), int(match[5] or 0), int(match[6] or 0)
        zone = match[7]
    else:
        match = _NUMERIC.match(value)
        if not match:
            raise ValueError
        first, second_part, year = int(match[1]), int(match[2]), int(match[3])
        day, month = (first, second_part) if dayfirst else (second_part, first)
        if year < 100:
            year += 2000
        hour, minute, second = int(match[4] or 0), int(match[5] or 0), int(match[6] or 0)
        zone = None
    when = dt.datetime(year, month, day, hour, minute, second)
    if zone:
        if zone == "Z":
            return when.replace(tzinfo=dt.UTC)
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return when.replace(tzinfo=dt.timezone(sign * offset))
    return timezone.make_aware(when)


class RowCleaner:
    """Cleans rows for one mapping; built once per import, called for every row."""

    def __init__(
        self,
        *,
        columns: list[str],
        mapping: dict[str, str],
        stage_values: dict[str, str],
        default_stage: str,
        dayfirst: bool,
        max_cell: int,
    ):
        self.columns = columns
        self.width = len(columns)
        self.plan = [
            (index, column, target, _TEXT_LIMIT.get(target, 0))
            for index, column in enumerate(columns)
            if (target := mapping.get(column, ATTRIBUTE)) != IGNORE
        ]
        self.stage_values = {
            normalise_header(value): stage for value, stage in (stage_values or {}).items() if stage
        }
        # Whether a mapped value the file has no column for could still need a story.
        self.story_targets = {t for _, _, t, _ in self.plan} & set(STORY_TARGETS)
        self.default_stage = default_stage
        self.dayfirst = dayfirst
        self.max_cell = max_cell
        by_target = {target: column for column, target in mapping.items()}
        self.identity_column = by_target.get("email") or by_target.get("external_id") or ""

    def clean(self, line: int, cells: list[str]) -> CleanRow:
        errors: list[tuple[str, str]] = []
        values: dict = {}
        stage = self.default_stage
        stage_at = None
        count = len(cells)
        if count != self.width and not (
            count > self.width and not "".join(cells[self.width :]).strip()
        ):
            errors.append(("", f"This row has {count} fields; the header has {self.width}."))
            return CleanRow(line, values, stage, stage_at, errors)
        attributes = {}
        story: dict = {}
        max_cell = self.max_cell
        for index, column, target, limit in self.plan:
            raw = cells[index]
            if not raw:
                continue
            if "\x00" in raw:
                # PostgreSQL text cannot hold NUL; the reader checks only the file's first bytes.
                errors.append((column, "The value contains a NUL character (binary data)."))
                continue
            if limit:
                # The common case first: a text field (a million rows pass here).
                value = raw.strip()
                if not value or (len(value) <= 6 and value.lower() in PLACEHOLDERS):
                    continue
                if len(value) <= limit:
                    values[target] = value
                    continue
            if len(raw) > max_cell:
                errors.append(
                    (
                        column,
                        f"The value is {len(raw):,} characters long; the limit is "
                        f"{self.max_cell:,}.",
                    )
                )
                continue
            value = raw.strip()
            if not value:
                continue
            if target == ATTRIBUTE:
                attributes[column] = value
                continue
            if value.lower() in PLACEHOLDERS:
                continue
            if target == "email":
                email = value.lower()
                if not _EMAIL_SHAPE.match(email) or len(email) > 254:
                    try:
                        _validate_email(email)
                    except ValidationError:
                        errors.append((column, f"{value!r} is not a valid e-mail address."))
                        continue
                values["email"] = email
            elif target == "stage":
                found = self.stage_values.get(normalise_header(value)) or DEFAULT_VALUES.get(
                    normalise_header(value)
                )
                if not found:
                    errors.append((column, f"Unknown stage {value!r}: map it to a Handoff stage."))
                    continue
                stage, outcome = stage_entry(found)
                story.update(outcome)
            elif target == "stage_at":
                try:
                    stage_at = parse_when(value, self.dayfirst)
                except ValueError:
                    errors.append((column, f"{value!r} is not a date."))
            elif target in ("created_at", "close_date", *STAGE_DATE_TARGETS):
                try:
                    when = parse_when(value, self.dayfirst)
                except ValueError:
                    errors.append((column, f"{value!r} is not a date."))
                    continue
                story[target] = when.isoformat()
            elif target == "amount":
                try:
                    story["amount"] = str(parse_amount(value))
                except ValueError:
                    errors.append((column, f"{value!r} is not an amount."))
            elif target in ("deal_owner", "pipeline_stage"):
                story[target] = value[:150]
            elif target == "company_size":
                try:
                    size = int(value.replace(",", "").replace(" ", ""))
                    if size < 0:
                        raise ValueError
                    if size > MAX_COMPANY_SIZE:
                        errors.append((column, f"{value!r} is larger than any company."))
                        continue
                except ValueError:
                    errors.append((column, f"{value!r} is not a whole number."))
                    continue
                values["company_size"] = size
            elif target == "do_not_email":
                lowered = value.lower()
                if lowered in TRUE_VALUES:
                    values["do_not_email"] = True
                elif lowered in FALSE_VALUES:
                    values["do_not_email"] = False
                else:
                    errors.append((column, f"{value!r} is not yes or no."))
            else:
                limit = _MAX_LENGTH.get(target)
                if limit and len(value) > limit:
                    errors.append(
                        (
                            column,
                            f"The value is {len(value):,} characters long; {target} "
                            f"takes at most {limit}.",
                        )
                    )
                    continue
                values[target] = value
        if attributes:
            values["attributes"] = attributes
        if not errors and not values.get("email") and not values.get("external_id"):
            errors.append((self.identity_column, "A lead needs an e-mail or an external id."))
        if story or stage in DEAL_STAGES:
            if stage_at is None:
                # The date of the last row: when it was won or lost, else when it entered.
                ends = stage in ("customer", "nurture", "junk")
                final = (
                    (ends and story.get("close_date"))
                    or story.get(f"{stage}_at")
                    or story.get("created_at")
                )
                stage_at = dt.datetime.fromisoformat(final) if final else None
            return CleanRow(line, values, stage, stage_at, errors, story)
        return CleanRow(line, values, stage, stage_at, errors)


class _Slow(Exception):
    """The fast path cannot take this row as it is: the full `clean` decides."""


def staging_writer(cleaner: RowCleaner, *, fields: tuple[str, ...], rank: dict[str, int]):
    """A function (line, cells) -> the staging tuple (line, ident, *fields, attributes as
    JSON, stage, rank, stage_at), or None when the row needs `cleaner.clean` (a problem, a
    ragged row, an e-mail only Django's validator accepts...).

    A million rows pass here: one small closure per mapped column, chosen once, and one list
    per row instead of a dict, a dataclass and their lookups. It takes exactly what `clean`
    takes and gives the same values; whatever it is not sure about goes to `clean`, so the
    messages and line numbers of failed rows are `clean`'s own."""
    max_cell = cleaner.max_cell
    width = cleaner.width
    slot_of = {name: index for index, name in enumerate(fields)}
    stage_values = cleaner.stage_values
    dayfirst = cleaner.dayfirst
    stages: dict[str, str] = {}

    def checked(raw: str) -> str | None:
        if len(raw) > max_cell:
            raise _Slow
        value = raw.strip()
        if not value or value.lower() in PLACEHOLDERS:
            return None
        return value

    def email(raw: str):
        value = checked(raw)
        if value is None:
            return None
        email = value.lower()
        if len(email) > 254 or not _EMAIL_SHAPE.match(email):
            raise _Slow
        return email

    def stage(raw: str):
        value = checked(raw)
        if value is None:
            return None
        found = stages.get(value)
        if found is None:
            key = normalise_header(value)
            found = stage_values.get(key) or DEFAULT_VALUES.get(key)
            # An outcome or a deal stage has a story to tell: `clean` tells it.
            if not found or isinstance(found, dict) or found in DEAL_STAGES:
                raise _Slow
            found = stages[value] = str(found)
        return found

    def stage_at(raw: str):
        value = checked(raw)
        if value is None:
            return None
        try:
            return parse_when(value, dayfirst)
        except ValueError:
            raise _Slow from None

    def company_size(raw: str):
        value = checked(raw)
        if value is None:
            return None
        try:
            size = int(value.replace(",", "").replace(" ", ""))
        except ValueError:
            raise _Slow from None
        if size < 0:
            raise _Slow
        return size

    def do_not_email(raw: str):
        value = checked(raw)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in TRUE_VALUES:
            return True
        if lowered in FALSE_VALUES:
            return False
        raise _Slow

    def attribute(raw: str):
        if len(raw) > max_cell:
            raise _Slow
        return raw.strip() or None

    STAGE, STAGE_AT, ATTRS = -1, -2, -3
    special = {
        "email": email,
        "company_size": company_size,
        "do_not_email": do_not_email,
        "stage": stage,
        "stage_at": stage_at,
    }
    # (cell index, where the value goes, how it is read (a text field: its length limit,
    # read inline), the column's name)
    plan: list[tuple] = []
    for index, column, target, limit in cleaner.plan:
        if target == ATTRIBUTE:
            plan.append((index, ATTRS, attribute, column))
        elif target == "stage":
            plan.append((index, STAGE, stage, column))
        elif target == "stage_at":
            plan.append((index, STAGE_AT, stage_at, column))
        elif target in special:
            plan.append((index, slot_of[target], special[target], column))
        elif limit:
            plan.append((index, slot_of[target], limit, column))
        else:
            return lambda line, cells: None  # a target only `clean` knows
    email_slot = slot_of["email"]
    external_slot = slot_of["external_id"]
    count = len(fields)
    default_stage = cleaner.default_stage
    if default_stage in DEAL_STAGES:
        return lambda line, cells: None

    def write(line: int, cells: list[str]):
        if len(cells) != width:
            return None
        out = [None] * count
        attributes = None
        row_stage, row_stage_at = default_stage, None
        try:
            for index, slot, read, column in plan:
                raw = cells[index]
                if not raw:
                    continue
                if read.__class__ is int:  # a text field, the common case
                    value = raw.strip()
                    if not value or (len(value) <= 6 and value.lower() in PLACEHOLDERS):
                        continue
                    if len(value) > read:
                        return None
                    out[slot] = value
                    continue
                value = read(raw)
                if value is None:
                    continue
                if slot >= 0:
                    out[slot] = value
                elif slot == STAGE:
                    row_stage = value
                elif slot == STAGE_AT:
                    row_stage_at = value
                else:
                    if attributes is None:
                        attributes = {}
                    attributes[column] = value
        except _Slow:
            return None
        if out[email_slot]:
            ident = "e:" + out[email_slot]
        elif out[external_slot]:
            ident = "x:" + out[external_slot]
        else:
            return None
        return (
            line,
            ident,
            *out,
            json.dumps(attributes) if attributes else None,
            row_stage,
            rank[row_stage],
            row_stage_at,
            None,
        )

    return write
