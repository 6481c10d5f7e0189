"""Which lead field each column fills, matched by header and common synonyms; stage values;
day-first or month-first dates."""

import re

from leads.fields import FIELD, IMPORT_FIELDS, TOUCH, TOUCH_IMPORT_FIELDS
from leads.stages import Stage

ATTRIBUTE = "attribute"
IGNORE = "ignore"

# (target, label) in the order the mapping page offers them.
TARGETS: tuple[tuple[str, str], ...] = (
    *((name, FIELD[name].label) for name in IMPORT_FIELDS),
    *((name, TOUCH[name].label) for name in TOUCH_IMPORT_FIELDS),
    ("stage", "Stage"),
    ("stage_at", "Stage date"),
    (ATTRIBUTE, "Keep as attribute"),
    (IGNORE, "Ignore"),
)
TARGET_NAMES = {target for target, _ in TARGETS}
FIELD_TARGETS = TARGET_NAMES - {ATTRIBUTE, IGNORE}


def normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


SYNONYMS: dict[str, tuple[str, ...]] = {
    **{name: FIELD[name].synonyms for name in IMPORT_FIELDS},
    **{name: TOUCH[name].synonyms for name in TOUCH_IMPORT_FIELDS},
    "stage": (
        "stage",
        "lifecycle stage",
        "lead stage",
        "deal stage",
        "lead status",
        "status",
        "funnel stage",
    ),
    "stage_at": (
        "stage at",
        "stage date",
        "stage changed",
        "stage changed at",
        "close date",
        "closed date",
        "won date",
    ),
}
_BY_NAME = {name: target for target, names in SYNONYMS.items() for name in names}

# Values in other tools' stage columns, and the Handoff stage each one means.
STAGE_SYNONYMS: dict[str, str] = {
    **{str(stage.value): str(stage.value) for stage in Stage},
    "subscriber": Stage.SUSPECT,
    "new": Stage.SUSPECT,
    "cold": Stage.SUSPECT,
    "lead": Stage.MQL,
    "marketing qualified lead": Stage.MQL,
    "marketing qualified": Stage.MQL,
    "interested": Stage.MQL,
    "sales accepted lead": Stage.SAL,
    "sales accepted": Stage.SAL,
    "accepted": Stage.SAL,
    "working": Stage.SAL,
    "sales qualified lead": Stage.SQL,
    "sales qualified": Stage.SQL,
    "qualified": Stage.SQL,
    "prospecting": Stage.OPPORTUNITY,
    "engaging": Stage.OPPORTUNITY,
    "discovery": Stage.OPPORTUNITY,
    "proposal": Stage.OPPORTUNITY,
    "negotiation": Stage.OPPORTUNITY,
    "deal": Stage.OPPORTUNITY,
    "won": Stage.CUSTOMER,
    "closed won": Stage.CUSTOMER,
    "customer": Stage.CUSTOMER,
    "lost": Stage.NURTURE,
    "closed lost": Stage.NURTURE,
    "disqualified": Stage.NURTURE,
    "unqualified": Stage.NURTURE,
    "recycled": Stage.NURTURE,
    "spam": Stage.JUNK,
    "invalid": Stage.JUNK,
}


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """{column: target}: each lead field goes to the first column whose header names it;
    every other column is kept as an attribute (the error report's own columns ignored)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = normalise_header(column)
        target = _BY_NAME.get(name)
        if name.startswith("error ") and name in ("error line", "error column", "error reason"):
            mapping[column] = IGNORE
        elif target and target not in taken:
            mapping[column] = target
            taken.add(target)
        else:
            mapping[column] = ATTRIBUTE
    return mapping


def mapping_from_fields(columns: list[str], by_field: dict) -> dict[str, str]:
    """The API's `{field: column header}` as `{column: target}`; other columns become
    attributes. Raises ValueError naming what is wrong."""
    if not isinstance(by_field, dict):
        raise ValueError('mapping must be a JSON object: {"field": "column header"}.')
    known = {column.lower(): column for column in columns}
    mapping = dict.fromkeys(columns, ATTRIBUTE)
    for target, header in by_field.items():
        if target not in FIELD_TARGETS and target not in (ATTRIBUTE, IGNORE):
            raise ValueError(f"{target!r} is not a lead field an import can fill.")
        headers = header if isinstance(header, list) else [header]
        for one in headers:
            column = known.get(str(one).strip().lower())
            if column is None:
                raise ValueError(f"The file has no column {one!r} (for {target}).")
            mapping[column] = target
    return mapping


def check_mapping(mapping: dict[str, str]) -> list[str]:
    """Problems that stop an import from starting."""
    problems = []
    targets = [t for t in mapping.values() if t in FIELD_TARGETS]
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(f"More than one column is mapped to {target}.")
    if "email" not in targets and "external_id" not in targets:
        problems.append("Map a column to e-mail or to external id: they identify the leads.")
    for target in mapping.values():
        if target not in TARGET_NAMES:
            problems.append(f"{target!r} is not a lead field.")
    return problems


def touch_problems(mapping: dict[str, str], *, has_campaign: bool) -> list[str]:
    """Touch columns (UTM, gclid) go on the touch of the import's campaign membership."""
    touches = [t for t in TOUCH_IMPORT_FIELDS if t in mapping.values()]
    if touches and not has_campaign:
        return [
            f"Choose the campaign of this import: its {', '.join(touches)} columns are the "
            "touch of the leads' membership in it (upload the file with its campaign, or "
            "keep those columns as attributes)."
        ]
    return []


def stage_value_mapping(values, given: dict | None = None) -> dict[str, str]:
    """{value in the file: stage} for the values seen, from `given` first, then synonyms."""
    given = {normalise_header(k): v for k, v in (given or {}).items()}
    result = {}
    for value in values:
        key = normalise_header(value)
        stage = given.get(key) or STAGE_SYNONYMS.get(key)
        result[value] = str(stage) if stage else ""
    return result


_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b")


def detect_dayfirst(values) -> bool | None:
    """True when a date's first number is over 12, False when its second is, else None."""
    for value in values:
        match = _DATE.match(value or "")
        if not match:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second:
            return True
        if second > 12 >= first:
            return False
    return None
