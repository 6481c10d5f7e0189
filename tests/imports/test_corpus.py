"""A corpus of awkward files, each with the exact counts and messages it must give.

Runs on SQLite (the ORM path) and on PostgreSQL (COPY + merge): both must agree."""

import codecs
import datetime as dt

import pytest

from campaigns.imports.report import csv_lines, error_report_rows
from campaigns.imports.services import ImportRefused
from leads.models import Lead

from .conftest import counts, errors_of, import_csv, upload

pytestmark = pytest.mark.django_db

HEADER = "Email,First Name,Company\n"


def test_it_imports_plain_utf8_with_commas():
    job = import_csv(HEADER + "ann@example.com,Ann,Acme\nbob@example.com,Bob,Beta\n")
    assert job.status == "done"
    assert (job.total, job.processed) == (2, 2)
    assert counts(job) == (2, 0, 0, 0)
    assert Lead.objects.get(email="bob@example.com").company == "Beta"


def test_it_reads_utf8_with_a_bom_and_semicolons():
    content = codecs.BOM_UTF8 + "E-mail Address;First Name\nzoe@example.com;Zoë\n".encode()
    job = import_csv(content)
    assert (job.encoding, job.delimiter) == ("utf-8-sig", ";")
    assert job.mapping == {"E-mail Address": "email", "First Name": "first_name"}
    assert Lead.objects.get(email="zoe@example.com").first_name == "Zoë"


def test_it_reads_utf16_with_tabs():
    content = "Email\tLast Name\nmu@example.com\tMüller\n".encode("utf-16")
    job = import_csv(content)
    assert (job.encoding, job.delimiter) == ("utf-16", "\t")
    assert Lead.objects.get(email="mu@example.com").last_name == "Müller"


def test_it_reads_windows_1252_with_pipes():
    content = "Email|Company\nfr@example.com|Société Générale \u2013 Paris\n".encode("cp1252")
    job = import_csv(content)
    assert (job.encoding, job.delimiter) == ("cp1252", "|")
    assert Lead.objects.get(email="fr@example.com").company == "Société Générale \u2013 Paris"


def test_it_keeps_quoted_newlines_and_counts_lines_from_the_file():
    content = 'Email,Notes\na@example.com,"first line\nsecond line"\nnot-an-email,x\n'
    job = import_csv(content)
    assert counts(job) == (1, 0, 0, 1)
    assert Lead.objects.get(email="a@example.com").attributes == {
        "Notes": "first line\nsecond line"
    }
    # The bad row starts on line 4: the quoted newline took a line of its own.
    assert errors_of(job) == [(4, "Email", "'not-an-email' is not a valid e-mail address.")]


def test_it_reports_ragged_rows_and_tolerates_a_trailing_empty_column():
    content = (
        "Email,First Name,Company,\n"
        "a@example.com,Ann,Acme,\n"
        "b@example.com,Bob\n"
        "c@example.com,Cid,Core,extra\n"
        "d@example.com,Dee,Dot\n"
    )
    job = import_csv(content)
    assert job.columns == ["Email", "First Name", "Company"]
    assert counts(job) == (2, 0, 0, 2)
    assert errors_of(job) == [
        (3, "", "This row has 2 fields; the header has 3."),
        (4, "", "This row has 4 fields; the header has 3."),
    ]


def test_it_fails_rows_with_neither_email_nor_external_id():
    job = import_csv("Email,Prospect ID,First Name\n,,Nobody\n,P-1,Pat\n")
    assert counts(job) == (1, 0, 0, 1)
    assert errors_of(job) == [(2, "Email", "A lead needs an e-mail or an external id.")]
    assert Lead.objects.get(external_id="P-1").email is None


def test_it_refuses_to_start_without_an_identity_column():
    with pytest.raises(ImportRefused) as refused:
        upload("First Name,Company\nAnn,Acme\n", start=True)
    assert refused.value.status == 400
    assert refused.value.message == (
        "Map a column to e-mail or to external id: they identify the leads."
    )


def test_it_fails_a_row_with_a_one_megabyte_field_and_imports_the_rest():
    huge = "x" * 1_048_576
    job = import_csv(f"Email,Notes\na@example.com,{huge}\nb@example.com,short\n")
    assert counts(job) == (1, 0, 0, 1)
    assert errors_of(job) == [
        (2, "Notes", "The value is 1,048,576 characters long; the limit is 65,536.")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
            "This is not a CSV file: it contains binary data.",
        ),
        (b"", "The file is empty."),
        (b"   \n\n", "The file is empty."),
        (b"Email,First Name\n", "The file has a header but no data rows."),
        (b"Email,First Name\n,\n", "The file has a header but no data rows."),
    ],
    ids=["binary", "empty", "blank", "header-only", "header-and-blank-row"],
)
def test_it_refuses_what_is_not_a_csv_before_writing_anything(content, message):
    with pytest.raises(ImportRefused) as refused:
        upload(content)
    assert (refused.value.status, refused.value.message) == (400, message)
    assert not Lead.objects.exists()


def test_it_stores_formula_cells_as_given_and_escapes_them_in_the_error_report():
    content = (
        "Email,Company,Stage\n"
        'a@example.com,=HYPERLINK("http://x"),\n'
        "b@example.com,+cmd|' /C calc'!A0,Nope\n"
    )
    job = import_csv(content)
    assert counts(job) == (1, 0, 0, 1)
    assert Lead.objects.get(email="a@example.com").company == '=HYPERLINK("http://x")'
    report = "".join(csv_lines(error_report_rows(job))).splitlines()
    assert report[0] == "Email,Company,Stage,error line,error column,error reason"
    assert report[1] == (
        "b@example.com,'+cmd|' /C calc'!A0,Nope,3,Stage,"
        "Unknown stage 'Nope': map it to a Handoff stage."
    )


def test_it_merges_duplicate_rows_differing_in_case_and_spaces():
    content = (
        "Email,First Name,Company\n"
        "  ANN@Example.com ,Ann,\n"
        "ann@example.com,,Acme\n"
        "bob@example.com,Bob,Beta\n"
    )
    job = import_csv(content)
    assert counts(job) == (2, 0, 1, 0)
    assert job.merged == 1
    ann = Lead.objects.get(email="ann@example.com")
    assert (ann.first_name, ann.company) == ("Ann", "Acme")
    assert ann.transitions.count() == 1


def test_it_reads_day_first_dates_when_the_data_says_so():
    content = "Email,Stage,Stage Date\na@example.com,mql,13/02/2024\nb@example.com,mql,01/03/2024\n"
    job = import_csv(content)
    assert job.dayfirst is True
    dates = dict(Lead.objects.values_list("email", "stage_changed_at"))
    assert dates["a@example.com"].date() == dt.date(2024, 2, 13)
    assert dates["b@example.com"].date() == dt.date(2024, 3, 1)


def test_it_reads_month_first_dates_when_the_data_says_so():
    content = "Email,Stage,Stage Date\na@example.com,mql,02/13/2024\nb@example.com,mql,01/03/2024\n"
    job = import_csv(content)
    assert job.dayfirst is False
    dates = dict(Lead.objects.values_list("email", "stage_changed_at"))
    assert dates["b@example.com"].date() == dt.date(2024, 1, 3)


def test_it_fails_rows_with_unknown_stage_values_or_bad_dates():
    content = (
        "Email,Stage,Stage Date\n"
        "a@example.com,Won,2024-05-01\n"
        "b@example.com,Maybe later,2024-05-01\n"
        "c@example.com,Lost,yesterday\n"
    )
    job = import_csv(content)
    assert counts(job) == (1, 0, 0, 2)
    assert errors_of(job) == [
        (3, "Stage", "Unknown stage 'Maybe later': map it to a Handoff stage."),
        (4, "Stage Date", "'yesterday' is not a date."),
    ]
    assert Lead.objects.get(email="a@example.com").stage == "customer"


def test_it_maps_yes_no_columns_to_do_not_email():
    job = import_csv("Email,Do Not Email\na@example.com,Yes\nb@example.com,No\nc@example.com,?\n")
    assert counts(job) == (2, 0, 0, 1)
    assert dict(Lead.objects.values_list("email", "do_not_email")) == {
        "a@example.com": True,
        "b@example.com": False,
    }
    assert errors_of(job) == [(4, "Do Not Email", "'?' is not yes or no.")]


def test_it_refuses_a_file_over_the_row_limit_before_writing_anything(settings):
    settings.HANDOFF_IMPORT_MAX_ROWS = 2
    with pytest.raises(ImportRefused) as refused:
        upload(HEADER + "a@example.com,A,X\nb@example.com,B,X\nc@example.com,C,X\n")
    assert refused.value.status == 413
    assert "more than 2 data rows" in refused.value.message
    assert not Lead.objects.exists()


def test_it_refuses_a_file_over_the_size_limit(settings):
    settings.HANDOFF_IMPORT_MAX_BYTES = 40
    with pytest.raises(ImportRefused) as refused:
        upload(HEADER + "a@example.com,A,X\nb@example.com,B,X\nc@example.com,C,X\n")
    assert refused.value.status == 413


def test_it_imports_in_batches_with_the_same_outcome(settings):
    settings.HANDOFF_IMPORT_BATCH_ROWS = 2
    rows = "".join(f"lead{i}@example.com,L{i},C\n" for i in range(7))
    job = import_csv(HEADER + rows + "LEAD3@example.com ,,D\n")
    assert counts(job) == (7, 0, 1, 0)
    assert (job.processed, job.merged) == (8, 1)
    assert Lead.objects.get(email="lead3@example.com").company == "D"


def test_placeholders_are_blank_for_lead_fields_but_kept_in_attributes():
    job = import_csv("Prospect ID,City,Tags\nP-1,Select,Select\nP-2,Pune,\n")
    assert counts(job) == (2, 0, 0, 0)
    lead = Lead.objects.get(external_id="P-1")
    assert (lead.city, lead.attributes) == ("", {"Tags": "Select"})


def test_a_row_with_only_the_external_id_of_a_new_lead_merges_into_it():
    job = import_csv("Email,Prospect ID,Company\na@example.com,P-1,Acme\n,P-1,Acme\n")
    assert counts(job) == (1, 0, 1, 0)
    assert Lead.objects.get().external_id == "P-1"
