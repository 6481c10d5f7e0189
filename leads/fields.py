"""The lead's fields, written out once: what each is, and where it may be used.

Import mapping, capture forms, segments, mail merge, both import engines and the lead
services derive their field lists from `LEAD_FIELDS` instead of spelling them out again.
The touch fields (`TOUCH_FIELDS`) are a lead's attribution: they belong to a touch (a
campaign membership), not to the lead row, but are listed here so every layer agrees.
"""

from dataclasses import dataclass

EMAIL, IDENTIFIER, TEXT, INTEGER, BOOLEAN, JSON, CHOICE, USER, DATETIME = (
    "email",
    "identifier",
    "text",
    "integer",
    "boolean",
    "json",
    "choice",  # the stage
    "user",  # the owner
    "datetime",
)


@dataclass(frozen=True)
class LeadField:
    name: str
    label: str
    kind: str
    max_length: int | None = None
    # A client may set it (API, services); stage, score and owner have their own paths.
    editable: bool = True
    # An import column may fill it (as a mapping target).
    importable: bool = True
    # A landing-page form or the capture API may ask for it (e-mail is always asked).
    capturable: bool = False
    # A segment condition may name it.
    segmentable: bool = False
    # A nurture message may use it as {{ lead.<name> }}.
    mergeable: bool = False
    # It can hold personal data: a GDPR erasure blanks it.
    personal: bool = False
    # Column headers of other tools that mean this field (normalised: lower case, words).
    synonyms: tuple[str, ...] = ()


# In the order the pages offer them (the import mapping, the capture form's choices).
LEAD_FIELDS: tuple[LeadField, ...] = (
    LeadField(
        "email",
        "E-mail",
        EMAIL,
        254,
        segmentable=True,
        mergeable=True,
        personal=True,
        synonyms=(
            "email",
            "e mail",
            "email address",
            "e mail address",
            "mail",
            "work email",
            "business email",
            "email id",
            "contact email",
        ),
    ),
    LeadField(
        "external_id",
        "External id",
        IDENTIFIER,
        255,
        synonyms=(
            "external id",
            "id",
            "prospect id",
            "lead id",
            "contact id",
            "record id",
            "mql id",
            "opportunity id",
            "customer id",
            "crm id",
        ),
    ),
    LeadField(
        "first_name",
        "First name",
        TEXT,
        150,
        capturable=True,
        segmentable=True,
        mergeable=True,
        personal=True,
        synonyms=("first name", "firstname", "given name", "first", "forename"),
    ),
    LeadField(
        "last_name",
        "Last name",
        TEXT,
        150,
        capturable=True,
        segmentable=True,
        mergeable=True,
        personal=True,
        synonyms=("last name", "lastname", "surname", "family name", "last"),
    ),
    LeadField(
        "company",
        "Company",
        TEXT,
        255,
        capturable=True,
        segmentable=True,
        mergeable=True,
        personal=True,
        synonyms=(
            "company",
            "company name",
            "account",
            "account name",
            "organization",
            "organisation",
            "employer",
        ),
    ),
    LeadField(
        "title",
        "Job title",
        TEXT,
        255,
        capturable=True,
        segmentable=True,
        mergeable=True,
        personal=True,
        synonyms=("title", "job title", "position", "role", "job role", "designation"),
    ),
    LeadField(
        "phone",
        "Phone",
        TEXT,
        64,
        capturable=True,
        segmentable=True,
        personal=True,
        synonyms=("phone", "phone number", "telephone", "mobile", "mobile phone", "tel"),
    ),
    LeadField(
        "country",
        "Country",
        TEXT,
        100,
        capturable=True,
        segmentable=True,
        mergeable=True,
        synonyms=("country", "country name", "country region"),
    ),
    LeadField(
        "city",
        "City",
        TEXT,
        100,
        capturable=True,
        segmentable=True,
        mergeable=True,
        personal=True,
        synonyms=("city", "town"),
    ),
    LeadField(
        "industry",
        "Industry",
        TEXT,
        150,
        capturable=True,
        segmentable=True,
        mergeable=True,
        synonyms=("industry", "sector", "business segment", "vertical"),
    ),
    LeadField(
        "company_size",
        "Company size",
        INTEGER,
        capturable=True,
        segmentable=True,
        synonyms=(
            "company size",
            "employees",
            "number of employees",
            "no of employees",
            "headcount",
        ),
    ),
    LeadField(
        "website",
        "Website",
        TEXT,
        255,
        capturable=True,
        segmentable=True,
        personal=True,
        synonyms=("website", "web site", "url", "company website", "domain"),
    ),
    LeadField(
        "source",
        "Source",
        TEXT,
        150,
        segmentable=True,
        synonyms=("source", "lead source", "origin", "channel"),
    ),
    LeadField(
        "do_not_email",
        "Do not e-mail (yes/no)",
        BOOLEAN,
        segmentable=True,
        synonyms=(
            "do not email",
            "do not e mail",
            "unsubscribed",
            "opt out",
            "email opt out",
            "opted out",
        ),
    ),
    LeadField("attributes", "Attributes", JSON, importable=False, personal=True),
    # Written by their own paths (scoring, transitions, assignment), never by a client.
    LeadField("score", "Score", INTEGER, editable=False, importable=False, segmentable=True),
    LeadField("stage", "Stage", CHOICE, 16, editable=False, importable=False, segmentable=True),
    LeadField("owner", "Owner", USER, editable=False, importable=False, segmentable=True),
    LeadField(
        "created_at", "Created", DATETIME, editable=False, importable=False, segmentable=True
    ),
)
FIELD = {field.name: field for field in LEAD_FIELDS}

# The lead's free-text fields (blank, never NULL, when unknown).
TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS if f.kind == TEXT)
# Fields a client may set on a lead.
EDITABLE_FIELDS: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS if f.editable)
# Lead fields an import column may fill: identity fields first, then the rest in order.
IMPORT_FIELDS: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS if f.importable)
# Fields an import writes into an existing lead (identity fields only on new leads).
IMPORT_FILL_FIELDS: tuple[str, ...] = tuple(
    f.name for f in LEAD_FIELDS if f.editable and f.kind not in (EMAIL, IDENTIFIER)
)
# Lead fields a form may ask for, with their labels; e-mail is always asked.
CAPTURABLE: dict[str, str] = {f.name: f.label for f in LEAD_FIELDS if f.capturable}
SEGMENTABLE: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS if f.segmentable)
MERGEABLE: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS if f.mergeable)
# Editable whole-number fields (company size): forms and criteria compare them as numbers.
NUMERIC_FIELDS: frozenset[str] = frozenset(
    f.name for f in LEAD_FIELDS if f.kind == INTEGER and f.editable
)
# What a GDPR erasure leaves in each personal field.
ERASED_VALUES: dict = {
    f.name: None if f.kind == EMAIL else {} if f.kind == JSON else ""
    for f in LEAD_FIELDS
    if f.personal
}


def max_length(name: str) -> int | None:
    return FIELD[name].max_length


# --- attribution: the fields of a touch ---------------------------------------------------


@dataclass(frozen=True)
class TouchField:
    name: str
    label: str
    max_length: int
    # An import column may fill it (the import's campaign membership is the touch).
    importable: bool = True
    synonyms: tuple[str, ...] = ()


TOUCH_FIELDS: tuple[TouchField, ...] = (
    TouchField("utm_source", "UTM source", 150, synonyms=("utm source",)),
    TouchField("utm_medium", "UTM medium", 150, synonyms=("utm medium", "medium")),
    TouchField("utm_campaign", "UTM campaign", 150, synonyms=("utm campaign",)),
    TouchField("utm_term", "UTM term", 150, synonyms=("utm term", "keyword", "search term")),
    TouchField("utm_content", "UTM content", 150, synonyms=("utm content", "ad content")),
    TouchField("gclid", "Google click id (gclid)", 255, synonyms=("gclid", "google click id")),
    TouchField("referrer", "Referrer", 500, importable=False),
    TouchField("landing_page", "Landing page", 500, importable=False),
)
TOUCH = {field.name: field for field in TOUCH_FIELDS}
TOUCH_NAMES: tuple[str, ...] = tuple(f.name for f in TOUCH_FIELDS)
# The touch fields an import column may fill (also the tracking parameters of a URL).
TOUCH_IMPORT_FIELDS: tuple[str, ...] = tuple(f.name for f in TOUCH_FIELDS if f.importable)


def touch_clean(values: dict) -> dict:
    """The touch fields of `values` that have a value, trimmed to their lengths (no NUL)."""
    found = {}
    for field in TOUCH_FIELDS:
        value = values.get(field.name)
        if isinstance(value, str):
            value = value.replace("\x00", "").strip()[: field.max_length]
            if value:
                found[field.name] = value
    return found
