"""The quick serialiser writes the bytes Django's email package would, or declines."""

import re

import pytest
from django.core.mail import EmailMultiAlternatives

from campaigns.nurture.mailing import NurtureEmail, build_email, quick_bytes
from campaigns.nurture.models import ContentAsset, Step
from leads.models import Lead

BOUNDARY = re.compile(rb"={15}\d{19}==")
DATE = re.compile(rb"^Date: [^\r]*\r\n", re.MULTILINE)


def django_bytes(email) -> bytes:
    return EmailMultiAlternatives.message(email).as_bytes(linesep="\r\n")


def same_but_boundary_and_date(raw: bytes) -> bytes:
    return DATE.sub(b"Date: X\r\n", BOUNDARY.sub(b"BOUNDARY", raw))


def email_for(*, subject="Nadia, a guide for Globex", first_name="Nadia", body=None, asset=True):
    lead = Lead(email="nadia@example.com", first_name=first_name, company="Globex")
    step = Step(
        pk=7, subject="", body=body or "Hi {{ lead.first_name }},\n\nFor {{ lead.company }}."
    )
    featured = None
    if asset:
        featured = ContentAsset(
            title="Buyer's guide & more", kind="faq", summary="<b>Why</b>", url="https://x.test/g"
        )
    return build_email(
        message_id=1234567,
        enrollment_id=99,
        step=step,
        subject=subject,
        lead=lead,
        asset=featured,
        to_email=lead.email,
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Nadia, a guide for Globex",
        "x" * 68,  # "Subject: " + 69 = 78, the longest line left alone
        "x" * 69,
        "A subject long enough that the email package has to fold it onto a second line",
        "A" * 120,
    ],
)
@pytest.mark.parametrize("site_url", ["http://127.0.0.1:8000", "https://handoff.example.com"])
def test_it_writes_the_bytes_django_would(subject, site_url, settings):
    settings.SITE_URL = site_url
    email = email_for(subject=subject)
    quick = quick_bytes(email)
    assert quick is not None
    assert same_but_boundary_and_date(quick) == same_but_boundary_and_date(django_bytes(email))
    assert email.message().as_bytes(linesep="\r\n") is not None


@pytest.mark.parametrize("url_length", range(40, 140, 7))
def test_a_long_list_unsubscribe_folds_as_django_folds_it(url_length, settings):
    settings.SITE_URL = "https://" + "h" * url_length + ".test"
    email = email_for(asset=False)
    assert same_but_boundary_and_date(quick_bytes(email)) == same_but_boundary_and_date(
        django_bytes(email)
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Nadia, un guide pour Globex — à lire"},
        {"subject": "Two  spaces"},
        {"first_name": "José"},
        {"body": "A line far too long " * 60},
    ],
)
def test_headers_it_does_not_write_itself_are_folded_by_the_email_package(changes):
    email = email_for(**changes)
    assert isinstance(email, NurtureEmail)
    raw = email.message().as_bytes(linesep="\r\n")
    assert same_but_boundary_and_date(raw) == same_but_boundary_and_date(django_bytes(email))


@pytest.mark.parametrize("changes", [{"first_name": "José"}, {"body": "Too long a line " * 70}])
def test_a_body_that_is_not_plain_short_ascii_is_left_to_django(changes):
    assert quick_bytes(email_for(**changes)) is None


def test_the_message_still_answers_header_lookups():
    message = email_for().message()
    assert message["Message-ID"] == "<nurture-99-7@handoff>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" in message
    assert message.as_bytes().count(b"\r\n") == 0


def test_the_envelope_is_what_django_would_make_of_the_addresses(settings):
    from django.core.mail.message import sanitize_address

    email = email_for()
    assert sanitize_address(email.from_email, "utf-8") == sanitize_address(
        settings.DEFAULT_FROM_EMAIL, "utf-8"
    )
    assert [sanitize_address(address, "utf-8") for address in email.recipients()] == [
        "nadia@example.com"
    ]
    assert email.message()["From"] == settings.DEFAULT_FROM_EMAIL


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ lead.first_name }},\n\nFor {{ lead.company }} ({{ asset.title }}).",
        "{{ lead.first_name }}{{ lead.last_name }}",
        "No variables at all & <b>markup</b>",
        "{{ lead.nickname }} and {{ nobody.name }}",  # missing: Django's string_if_invalid
        "{{ lead.items }} {{ lead }} {{ lead.first_name|upper }} {{ 'x' }}",
        "{% if lead.company %}{{ lead.company }}{% endif %} {# note #}{{ asset.url }}",
        "{{ lead.title }}",  # an empty value
    ],
)
def test_rendering_gives_what_django_renders(source):
    from django.template import Context

    from campaigns.nurture.mailing import compile_template, render_text

    context = {
        "lead": {"first_name": "Nadia", "last_name": "Ö", "company": "A & B <x>", "title": ""},
        "asset": {"title": "Guide", "summary": "Why", "url": "https://x.test/g?a=1&b=2"},
    }
    expected = compile_template(source).render(Context(context, autoescape=False))
    assert render_text(source, context) == expected
