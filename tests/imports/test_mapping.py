"""Matching columns to lead fields by header and synonyms; stage values; date order."""

import re

import pytest

from campaigns.imports.mapping import (
    auto_mapping,
    check_mapping,
    detect_dayfirst,
    mapping_from_fields,
    stage_value_mapping,
)


def test_it_matches_common_headers_and_synonyms():
    columns = [
        "E-mail Address",
        "First Name",
        "Last Name",
        "Company Name",
        "Prospect ID",
        "Job Title",
        "Lead Source",
        "Do Not Email",
        "Lifecycle Stage",
        "Favourite colour",
    ]
    assert auto_mapping(columns) == {
        "E-mail Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Company Name": "company",
        "Prospect ID": "external_id",
        "Job Title": "title",
        "Lead Source": "source",
        "Do Not Email": "do_not_email",
        "Lifecycle Stage": "stage",
        "Favourite colour": "attribute",
    }


def test_it_maps_each_field_once_and_ignores_the_error_report_columns():
    mapping = auto_mapping(["Email", "email", "error line", "error column", "error reason"])
    assert mapping == {
        "Email": "email",
        "email": "attribute",
        "error line": "ignore",
        "error column": "ignore",
        "error reason": "ignore",
    }


def test_it_matches_other_crms_exports():
    maven = auto_mapping(
        [
            "opportunity_id",
            "sales_agent",
            "account",
            "deal_stage",
            "engage_date",
            "close_date",
            "close_value",
        ]
    )
    assert maven["opportunity_id"] == "external_id"
    assert (maven["account"], maven["deal_stage"], maven["close_date"]) == (
        "company",
        "stage",
        "close_date",
    )
    # The deal's columns map to the deal, the engage date to when it entered.
    assert (maven["close_value"], maven["sales_agent"], maven["engage_date"]) == (
        "amount",
        "deal_owner",
        "created_at",
    )
    olist = auto_mapping(["mql_id", "first_contact_date", "landing_page_id", "origin"])
    assert (olist["mql_id"], olist["origin"]) == ("external_id", "source")


def test_the_apis_mapping_is_by_field_and_must_name_real_columns():
    columns = ["Mail", "Who"]
    assert mapping_from_fields(columns, {"email": "mail", "first_name": "Who"}) == {
        "Mail": "email",
        "Who": "first_name",
    }
    with pytest.raises(ValueError, match=re.escape("The file has no column 'Phone' (for phone).")):
        mapping_from_fields(columns, {"phone": "Phone"})
    with pytest.raises(
        ValueError, match=re.escape("'owner' is not a lead field an import can fill.")
    ):
        mapping_from_fields(columns, {"owner": "Who"})


def test_it_names_what_stops_a_start():
    assert check_mapping({"A": "email", "B": "email"}) == [
        "More than one column is mapped to email."
    ]
    assert check_mapping({"A": "first_name"}) == [
        "Map a column to e-mail or to external id: they identify the leads."
    ]


def test_it_maps_stage_values_from_synonyms_unless_told_otherwise():
    found = stage_value_mapping(
        ["Won", "Engaging", "Lost", "Prospecting", "Zombie"], {"prospecting": "sql"}
    )
    assert found == {
        "Won": "customer",
        "Engaging": "opportunity",
        "Lost": {"stage": "nurture", "reached": "opportunity"},
        "Prospecting": "sql",
        "Zombie": "",
    }


def test_it_has_hubspot_and_salesforce_presets():
    hubspot = stage_value_mapping(
        [
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "salesqualifiedlead",
            "opportunity",
            "customer",
            "evangelist",
            "other",
        ]
    )
    # HubSpot's "Lead" comes before its MQL.
    assert list(hubspot.values()) == [
        "suspect",
        "suspect",
        "mql",
        "sql",
        "opportunity",
        "customer",
        "customer",
        "suspect",
    ]
    salesforce = stage_value_mapping(
        [
            "Open - Not Contacted",
            "Working - Contacted",
            "Closed - Converted",
            "Closed - Not Converted",
            "Prospecting",
            "Qualification",
            "Needs Analysis",
            "Closed Won",
            "Closed Lost",
        ]
    )
    assert salesforce == {
        "Open - Not Contacted": "mql",
        "Working - Contacted": "sal",
        "Closed - Converted": "sql",
        "Closed - Not Converted": {"stage": "nurture", "reached": "sal"},
        "Prospecting": {"stage": "opportunity", "pipeline_stage": "discovery"},
        "Qualification": {"stage": "opportunity", "pipeline_stage": "discovery"},
        "Needs Analysis": {"stage": "opportunity", "pipeline_stage": "proposal"},
        "Closed Won": "customer",
        "Closed Lost": {"stage": "nurture", "reached": "opportunity"},
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["01/02/2024", "13/02/2024"], True),
        (["01/02/2024", "02/13/2024"], False),
        (["01/02/2024", "2024-05-01", ""], None),
        (["31-12-2017 10:00"], True),
    ],
)
def test_it_detects_day_first_or_month_first_from_the_data(values, expected):
    assert detect_dayfirst(values) is expected
