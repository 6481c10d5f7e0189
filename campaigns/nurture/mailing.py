"""Building a nurture e-mail: the lead's fields in the step's template, the featured asset
behind a signed click link, an open pixel, and the unsubscribe headers of RFC 8058.

Every link is absolute, on `settings.SITE_URL`, and signed with django.core.signing so an
altered link is refused (404) before anything is recorded.
"""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Engine, TemplateSyntaxError
from django.urls import reverse
from django.utils.html import escape, linebreaks

OPEN_SALT = "nurture.open"
CLICK_SALT = "nurture.click"
UNSUBSCRIBE_SALT = "nurture.unsubscribe"

# Lead fields a marketer may use in a subject or body: a dict, never the model, so a
# template cannot reach methods or relations.
LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "company",
    "title",
    "country",
    "city",
    "industry",
)

# Autoescape off: the body is text, escaped once when it becomes the HTML part.
_ENGINE = Engine(autoescape=False)


class BadTemplate(ValueError):
    pass


@functools.lru_cache(maxsize=512)
def compile_template(source: str):
    try:
        return _ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise BadTemplate(str(exc)) from None


def render_text(source: str, context: dict) -> str:
    return compile_template(source).render(Context(context, autoescape=False))


@functools.lru_cache(maxsize=8)
def _link_prefix(url_name: str, site_url: str) -> tuple[str, str]:
    """The absolute URL around a token, resolved once: reverse() is slow in a hot loop."""
    marker = "TOKEN"
    url = f"{site_url}{reverse(url_name, args=[marker])}"
    head, _, tail = url.partition(marker)
    return head, tail


def _link(url_name: str, token: str) -> str:
    head, tail = _link_prefix(url_name, settings.SITE_URL)
    return f"{head}{token}{tail}"


def open_url(message_id: int) -> str:
    return _link("nurture-open", signing.dumps(message_id, salt=OPEN_SALT))


def click_url(message_id: int, url: str) -> str:
    return _link("nurture-click", signing.dumps([message_id, url], salt=CLICK_SALT, compress=True))


def unsubscribe_url(message_id: int) -> str:
    return _link("nurture-unsubscribe", signing.dumps(message_id, salt=UNSUBSCRIBE_SALT))


def read_token(token: str, salt: str):
    """The signed value, or None when the token was altered or is not ours."""
    try:
        return signing.loads(token, salt=salt)
    except (signing.BadSignature, ValueError, TypeError):
        return None


def lead_context(lead) -> dict:
    return {field: getattr(lead, field) or "" for field in LEAD_FIELDS}


@dataclass(frozen=True)
class AssetView:
    title: str
    kind: str
    summary: str
    url: str


def render_subject(source: str, lead, asset) -> str:
    context = {"lead": lead_context(lead)}
    if asset is not None:
        context["asset"] = {"title": asset.title, "summary": asset.summary, "url": asset.url}
    return " ".join(render_text(source, context).split())[:200]


def build_email(
    *,
    message_id: int,
    enrollment_id: int,
    step,
    subject: str,
    lead,
    asset,
    to_email: str,
) -> EmailMultiAlternatives:
    """The multipart (text + HTML) e-mail for one message row."""
    context = {"lead": lead_context(lead)}
    featured = None
    if asset is not None:
        featured = AssetView(
            title=asset.title,
            kind=asset.get_kind_display(),
            summary=asset.summary,
            url=click_url(message_id, asset.url),
        )
        context["asset"] = {"title": asset.title, "summary": asset.summary, "url": featured.url}
    body = render_text(step.body, context).strip()
    unsubscribe = unsubscribe_url(message_id)

    text = [body]
    html = [linebreaks(escape(body))]
    if featured is not None:
        text.append(f"{featured.kind}: {featured.title}\n{featured.summary}\n{featured.url}")
        html.append(
            f'<p><strong>{escape(featured.kind)}:</strong> <a href="{escape(featured.url)}">'
            f"{escape(featured.title)}</a><br>{escape(featured.summary)}</p>"
        )
    text.append(f"Unsubscribe: {unsubscribe}")
    html.append(
        f'<p style="font-size:12px;color:#667085">Not interested any more? '
        f'<a href="{escape(unsubscribe)}">Unsubscribe</a>.</p>'
        f'<img src="{escape(open_url(message_id))}" width="1" height="1" alt="">'
    )
    email = EmailMultiAlternatives(
        subject=subject,
        body="\n\n".join(text) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to_email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # The same id whatever retry sends it: receivers can see a repeat for what it is.
            "Message-ID": f"<nurture-{enrollment_id}-{step.pk}@handoff>",
        },
    )
    email.attach_alternative("<html><body>" + "\n".join(html) + "</body></html>", "text/html")
    return email


def template_problem(source: str) -> str | None:
    """A readable error when a subject or body does not compile, else None."""
    try:
        compile_template(source)
    except BadTemplate as exc:
        return str(exc)
    return None
