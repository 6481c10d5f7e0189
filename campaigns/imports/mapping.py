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
    ("created_at", "Created date (entered the funnel)"),
    ("mql_at", "Date it became an MQL"),
    ("sal_at", "Date it became an SAL"),
    ("sql_at", "Date it became an SQL"),
    ("opportunity_at", "Date it became an opportunity"),
    ("amount", "Deal amount"),
    ("deal_owner", "Deal owner (username, e-mail or name)"),
    ("pipeline_stage", "Deal pipeline stage"),
    ("close_date", "Deal close date"),
    (ATTRIBUTE, "Keep as attribute"),
    (IGNORE, "Ignore"),
)
TARGET_NAMES = {target for target, _ in TARGETS}
FIELD_TARGETS = TARGET_NAMES - {ATTRIBUTE, IGNORE}
# Targets that tell the lead's story (its dates and its deal) rather than fill a lead field.
STAGE_DATE_TARGETS = ("mql_at", "sal_at", "sql_at", "opportunity_at")
STORY_TARGETS = (
    "created_at",
    *STAGE_DATE_TARGETS,
    "amount",
    "deal_owner",
    "pipeline_stage",
    "close_date",
)


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
        "won date",
        "lifecycle stage date",
    ),
    "created_at": (
        "created at",
        "created",
        "create date",
        "created date",
        "first contact date",
        "engage date",
    ),
    "mql_at": (
        "mql date",
        "became a marketing qualified lead date",
        "marketing qualified date",
        "date became mql",
    ),
    "sal_at": ("sal date", "accepted date", "became a sales accepted lead date"),
    "sql_at": ("sql date", "became a sales qualified lead date", "qualified date"),
    "opportunity_at": ("opportunity date", "became an opportunity date", "converted date"),
    "amount": ("amount", "deal amount", "close value", "deal value", "opportunity amount"),
    "deal_owner": ("deal owner", "sales agent", "opportunity owner", "sales rep"),
    "pipeline_stage": ("pipeline stage", "deal pipeline stage", "opportunity stage"),
    "close_date": ("close date", "closed date", "closing date", "expected close"),
}
_BY_NAME = {name: target for target, names in SYNONYMS.items() for name in names}

# Values in other tools' stage columns, and the Handoff stage each one means.
STAGE_SYNONYMS: dict[str, str] = {
    **{str(stage.value): str(stage.value) for stage in Stage},
    "subscriber": Stage.SUSPECT,
    "new": Stage.SUSPECT,
    "cold": Stage.SUSPECT,
    # HubSpot's "Lead" comes before its MQL: a contact who gave details, not yet qualified.
    "lead": Stage.SUSPECT,
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
    "recycled": Stage.NURTURE,
    "spam": Stage.JUNK,
    "invalid": Stage.JUNK,
}
# Outcomes: how far the lead got, and how it ended (a lost deal, a disqualified lead).
LOST_DEAL = {"stage": Stage.NURTURE, "reached": Stage.OPPORTUNITY}
OUTCOME_SYNONYMS: dict[str, dict] = {
    "lost": LOST_DEAL,
    "closed lost": LOST_DEAL,
    "disqualified": {"stage": Stage.NURTURE, "reached": Stage.SQL},
    "unqualified": {"stage": Stage.NURTURE, "reached": Stage.SAL},
}

# Presets of other CRMs' values, as the mapping page offers them (normalised keys).
HUBSPOT_PRESET: dict[str, str | dict] = {
    "subscriber": Stage.SUSPECT,
    "lead": Stage.SUSPECT,
    "marketingqualifiedlead": Stage.MQL,
    "marketing qualified lead": Stage.MQL,
    "salesqualifiedlead": Stage.SQL,
    "sales qualified lead": Stage.SQL,
    "opportunity": Stage.OPPORTUNITY,
    "customer": Stage.CUSTOMER,
    "evangelist": Stage.CUSTOMER,
    "other": Stage.SUSPECT,
}
SALESFORCE_PRESET: dict[str, str | dict] = {
    # Lead statuses.
    "open not contacted": Stage.MQL,
    "working contacted": Stage.SAL,
    "closed converted": Stage.SQL,
    "closed not converted": {"stage": Stage.NURTURE, "reached": Stage.SAL},
    # Opportunity stages.
    "prospecting": {"stage": Stage.OPPORTUNITY, "pipeline_stage": "discovery"},
    "qualification": {"stage": Stage.OPPORTUNITY, "pipeline_stage": "discovery"},
    "needs analysis": {"stage": Stage.OPPORTUNITY, "pipeline_stage": "proposal"},
    "closed won": Stage.CUSTOMER,
    "closed lost": LOST_DEAL,
}
PRESETS = {"hubspot": HUBSPOT_PRESET, "salesforce": SALESFORCE_PRESET}
# What a value means when the file does not say: synonyms, outcomes and both presets.
DEFAULT_VALUES: dict[str, str | dict] = {
    **STAGE_SYNONYMS,
    **OUTCOME_SYNONYMS,
    **HUBSPOT_PRESET,
    **SALESFORCE_PRESET,
}
# The verb of an outcome's last row, by the stage the lead reached before it ended.
OUTCOME_VERB = {
    Stage.SUSPECT: "junk",
    Stage.MQL: "reject",
    Stage.SAL: "disqualify",
    Stage.SQL: "disqualify",
    Stage.OPPORTUNITY: "lose",
}
FORWARD = (Stage.SUSPECT, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)


def stage_value_problem(value) -> str | None:
    """Why a stage value's mapping is not usable, or None. A value maps to a stage, or to
    an outcome {"stage": "nurture" or "junk", "reached": a stage before it, "reason"?};
    any stage may add "pipeline_stage" (the deal's, by slug or name)."""
    if isinstance(value, str):
        return None if value in Stage.values else f"{value!r} is not a stage."
    if not isinstance(value, dict):
        return "A stage value maps to a stage or to an object with stage and reached."
    unknown = set(value) - {"stage", "reached", "reason", "pipeline_stage"}
    if unknown:
        return f"Unknown keys {sorted(unknown)} (stage, reached, reason, pipeline_stage)."
    stage = value.get("stage")
    if stage not in Stage.values:
        return f"{stage!r} is not a stage."
    reached = value.get("reached")
    if reached not in (None, "", stage):
        if stage not in (Stage.NURTURE, Stage.JUNK):
            return "Only an outcome (nurture or junk) names the stage it reached before."
        if reached not in OUTCOME_VERB:
            return f"reached is a stage from suspect to opportunity, not {reached!r}."
    for key in ("reason", "pipeline_stage"):
        if value.get(key) is not None and not isinstance(value.get(key), str):
            return f"{key} is a text."
    return None


def stage_value_label(value) -> str:
    if isinstance(value, dict):
        stage, reached = value.get("stage", ""), value.get("reached")
        if reached and reached != stage:
            verb = OUTCOME_VERB.get(reached, "")
            return f"reached {reached}, then {verb} into {stage}"
        return str(stage)
    return str(value or "")


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


def stage_value_mapping(
    values, given: dict | None = None, preset: str | None = None
) -> dict[str, str | dict]:
    """{value in the file: stage or outcome} for the values seen, from `given` first, then
    the preset chosen, then synonyms and presets; "" when undecided."""
    given = {normalise_header(k): v for k, v in (given or {}).items()}
    first = PRESETS.get(preset or "", {})
    result: dict[str, str | dict] = {}
    for value in values:
        key = normalise_header(value)
        stage = given.get(key) or first.get(key) or DEFAULT_VALUES.get(key)
        if isinstance(stage, dict):
            result[value] = {k: str(v) for k, v in stage.items() if v}
        else:
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
