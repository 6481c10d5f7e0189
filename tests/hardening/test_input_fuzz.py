"""hypothesis over what reads untrusted input: the CSV reader, the column mapping, the row
cleaner and the e-mail normaliser. Whatever bytes or strings come in, each answers or refuses
with its own documented error (NotACSV, TooManyRows, ValueError, ValidationError); nothing
else escapes to crash an upload or an import.

HANDOFF_FUZZ_EXAMPLES_INPUT (default 60) is the examples per property; CI runs the same
derandomised examples every time, HANDOFF_FUZZ_RANDOM=1 draws new ones.
"""

import csv
import io
import os
import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.imports import csvfile
from campaigns.imports.mapping import (
    ATTRIBUTE,
    FIELD_TARGETS,
    TARGET_NAMES,
    auto_mapping,
    check_mapping,
    detect_dayfirst,
    mapping_from_fields,
    stage_value_mapping,
)
from campaigns.imports.rows import RowCleaner, parse_when
from leads.models import Lead
from leads.normalise import clean_email, normalise_email
from leads.stages import Stage

EXAMPLES = int(os.environ.get("HANDOFF_FUZZ_EXAMPLES_INPUT", "60"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("HANDOFF_FUZZ_RANDOM", "") not in ("1", "true", "yes"),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INT_MAX = 2_147_483_647  # PositiveIntegerField on PostgreSQL

# Bytes that look like CSV often enough to get past the first checks, and sometimes do not.
CSV_PIECES = (
    *(b"a", b"b", b"@", b".", b"1", b"2", b" ", b",", b";", b"\t", b"|", b'"', b"\n", b"\r"),
    *(b"\x00", b"\xff", b"\xfe", b"\xef\xbb\xbf", b"\xe9", b"\xc3\xa9", b"\x80", b"\x1a"),
)
csv_alphabet = st.sampled_from(CSV_PIECES)
csv_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(csv_alphabet, max_size=200).map(b"".join),
)
cell_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "yes", "No", "n/a", "12", "1,000", "-3", "9" * 12, "mql", "Hot"]),
    st.sampled_from(["2024-02-30", "31/12/2024", "2024-01-01T25:00", "2024-01-01 10:00+99:00"]),
    st.emails().map(lambda email: f" {email.upper()} "),
)


def _write(tmp_path, data: bytes):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    return path


@pytest.fixture
def small_sample(monkeypatch):
    # A sample of a few bytes, so short examples reach what lies past the sniffed head.
    monkeypatch.setattr(csvfile, "SAMPLE_BYTES", 24)


@fuzz
@given(data=csv_bytes)
@pytest.mark.parametrize("sample", ["full", "small"])
def test_reading_any_bytes_answers_an_inspection_or_refuses(data, sample, tmp_path, request):
    if sample == "small":
        request.getfixturevalue("small_sample")
    path = _write(tmp_path, data)
    try:
        found = csvfile.inspect(path, max_rows=20)
    except (csvfile.NotACSV, csvfile.TooManyRows):
        return
    assert found.columns and found.total >= 1
    assert len({column.lower() for column in found.columns}) == len(found.columns)
    rows = list(csvfile.data_records(path, found.encoding, found.delimiter))
    assert len(rows) == found.total


@fuzz
@given(row=st.lists(st.sampled_from(["a", "A", "a (2)", "A (2)", "", " ", "\ufeffa", "b"])))
def test_header_names_are_unique_whatever_the_header(row):
    names = csvfile.header_columns(row)
    assert len({name.lower() for name in names}) == len(names)


@fuzz
@given(text=st.text(max_size=300))
def test_sniffing_any_text_answers_a_known_delimiter(text):
    assert csvfile.sniff_delimiter(text) in csvfile.DELIMITERS


@fuzz
@given(columns=st.lists(st.text(max_size=20), max_size=12, unique=True))
def test_auto_mapping_maps_every_column_and_each_field_once(columns):
    mapping = auto_mapping(columns)
    assert set(mapping) == set(columns)
    assert set(mapping.values()) <= TARGET_NAMES
    fields = [target for target in mapping.values() if target in FIELD_TARGETS]
    assert len(fields) == len(set(fields))
    assert isinstance(check_mapping(mapping), list)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@fuzz
@given(
    columns=st.lists(st.text(max_size=12), max_size=6, unique=True),
    by_field=json_values,
)
def test_a_mapping_from_the_api_is_taken_or_refused_with_a_value_error(columns, by_field):
    try:
        mapping = mapping_from_fields(columns, by_field)
    except ValueError:
        return
    assert set(mapping) == set(columns)


@fuzz
@given(values=st.lists(st.text(max_size=20), max_size=8), given_map=json_values)
def test_stage_values_and_date_order_take_any_text(values, given_map):
    given_map = given_map if isinstance(given_map, dict) else {}
    result = stage_value_mapping(values, {str(k): v for k, v in given_map.items()})
    assert set(result) == set(values)
    assert detect_dayfirst(values) in (True, False, None)


COLUMNS = [
    "Email",
    "External id",
    "First name",
    "Company size",
    "Do not email",
    "Stage",
    "Stage date",
    "Notes",
]
MAPPING = {
    "Email": "email",
    "External id": "external_id",
    "First name": "first_name",
    "Company size": "company_size",
    "Do not email": "do_not_email",
    "Stage": "stage",
    "Stage date": "stage_at",
    "Notes": ATTRIBUTE,
}
MAX_LENGTH = {
    field.name: field.max_length
    for field in Lead._meta.get_fields()
    if getattr(field, "max_length", None)
}


@fuzz
@given(
    cells=st.lists(cell_text, min_size=0, max_size=len(COLUMNS) + 2),
    dayfirst=st.booleans(),
)
def test_a_cleaned_row_holds_only_values_the_lead_can_store(cells, dayfirst):
    cleaner = RowCleaner(
        columns=COLUMNS,
        mapping=MAPPING,
        stage_values={"Hot": "sql"},
        default_stage="suspect",
        dayfirst=dayfirst,
        max_cell=30,
    )
    row = cleaner.clean(2, cells)
    assert row.stage in Stage.values
    for column, message in row.errors:
        assert column in [*COLUMNS, ""] and message
    if row.errors:
        return
    assert row.ident
    for name, value in row.values.items():
        if isinstance(value, str):
            assert "\x00" not in value, name
            assert len(value) <= MAX_LENGTH.get(name, 10**9), name
    if "company_size" in row.values:
        assert 0 <= row.values["company_size"] <= INT_MAX
    if "email" in row.values:
        assert row.values["email"] == normalise_email(cells[0])
        assert clean_email(cells[0]) == row.values["email"]


@fuzz
@given(value=st.text(max_size=40), dayfirst=st.booleans())
def test_any_date_text_parses_or_refuses_with_a_value_error(value, dayfirst):
    try:
        when = parse_when(value, dayfirst)
    except ValueError:
        return
    assert when.tzinfo is not None


@fuzz
@given(value=st.one_of(st.none(), st.text(max_size=60), st.emails()))
def test_normalising_an_email_twice_changes_nothing(value):
    once = normalise_email(value)
    assert normalise_email(once) == once
    try:
        cleaned = clean_email(value)
    except ValidationError:
        return
    assert cleaned == once
    assert clean_email(cleaned) == cleaned


spaces = st.text(alphabet=" \t\r\n", max_size=3)


@fuzz
@given(
    email=st.emails().filter(lambda e: e.isascii()),
    flips=st.lists(st.booleans(), min_size=1, max_size=80),
    before=spaces,
    after=spaces,
)
def test_case_and_space_variants_of_an_email_normalise_equal(email, flips, before, after):
    variant = "".join(
        char.upper() if flips[i % len(flips)] else char.lower() for i, char in enumerate(email)
    )
    assert normalise_email(before + variant + after) == normalise_email(email)
    assert clean_email(before + variant + after) == clean_email(email)


@fuzz
@given(
    cells=st.lists(
        st.lists(
            st.text(alphabet=string.printable + "éß\u00a0", max_size=10), min_size=3, max_size=3
        ),
        min_size=1,
        max_size=5,
    ),
    delimiter=st.sampled_from(csvfile.DELIMITERS),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
)
def test_a_written_csv_reads_back_as_written(cells, delimiter, encoding, tmp_path):
    header = ["Email", "Name", "City"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(cells)
    path = _write(tmp_path, buffer.getvalue().encode(encoding))
    try:
        found = csvfile.inspect(path, max_rows=20)
    except csvfile.NotACSV:
        return  # e.g. only blank rows, or control characters that look binary
    kept = [row for row in cells if "".join(row).strip()]
    assert found.columns == header
    assert found.total == len(kept)


@fuzz
@given(column=st.sampled_from(COLUMNS[1:]), cell=cell_text | st.text(max_size=40))
def test_any_cell_beside_a_good_email_is_stored_or_refused_for_its_column(column, cell):
    """One column at a time, so an error elsewhere in the row cannot hide a bad value."""
    cleaner = RowCleaner(
        columns=COLUMNS,
        mapping=MAPPING,
        stage_values={},
        default_stage="suspect",
        dayfirst=False,
        max_cell=30,
    )
    cells = ["ann@example.com", *[""] * (len(COLUMNS) - 1)]
    cells[COLUMNS.index(column)] = cell
    row = cleaner.clean(2, cells)
    if row.errors:
        assert [error_column for error_column, _ in row.errors] == [column]
        return
    for name, value in row.values.items():
        if isinstance(value, str):
            assert "\x00" not in value, name
            assert len(value) <= MAX_LENGTH.get(name, 10**9), name
        if name == "attributes":
            assert all("\x00" not in text for text in value.values())
    if "company_size" in row.values:
        assert 0 <= row.values["company_size"] <= INT_MAX


# JSON bodies: the API's parser (config.parsers) over any nesting, deep or shallow, closed
# or cut off, in objects and lists: a value, or the parser's own ParseError.
json_openers = st.lists(st.sampled_from(["[", '{"a":', '{"a": [', "[1, "]), max_size=40)


@fuzz
@given(
    openers=json_openers,
    depth=st.one_of(st.integers(0, 50), st.integers(900, 2_000), st.integers(2_000, 60_000)),
    closed=st.booleans(),
    core=st.sampled_from(["1", '"x"', "null", "[]", "{}", "", "]", "}"]),
)
def test_a_json_body_of_any_nesting_parses_or_is_a_parse_error(openers, depth, closed, core):
    from rest_framework.exceptions import ParseError

    from config.parsers import JSONParser

    openers = openers or ["["]
    opened = [openers[level % len(openers)] for level in range(depth)]
    closers = "".join("]" if opener.endswith("[") else "}" for opener in reversed(opened))
    text = "".join(opened) + core + (closers if closed else "")
    try:
        JSONParser().parse(io.BytesIO(text.encode()), parser_context={})
    except ParseError as refused:
        assert refused.status_code == 400
