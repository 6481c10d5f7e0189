"""Building a nurture e-mail: the lead's fields in the step's template, the featured asset
behind a signed click link, an open pixel, and the unsubscribe headers of RFC 8058.

Every link is absolute, on `settings.SITE_URL`, and signed with django.core.signing so an
altered link is refused (404) before anything is recorded.
"""

import functools
import hashlib
import hmac
import random
import re
import sys
import time
from dataclasses import dataclass
from email import policy
from email.utils import formataddr, formatdate, parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import TextNode, Variable, VariableNode
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.html import escape, linebreaks

from leads.fields import MERGEABLE

OPEN_SALT = "nurture.open"
CLICK_SALT = "nurture.click"
UNSUBSCRIBE_SALT = "nurture.unsubscribe"

# Lead fields a marketer may use in a subject or body: a dict, never the model, so a
# template cannot reach methods or relations.
LEAD_FIELDS = MERGEABLE  # from leads.fields

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
    parts = _plain_parts(source)
    if parts is not None:
        # What Django renders for text and {{ group.key }} over dicts of strings: the same
        # string, put together without a Context (a worker renders two per message).
        out = []
        for part in parts:
            if type(part) is str:
                out.append(part)
                continue
            group = context.get(part[0])
            value = group.get(part[1]) if type(group) is dict else None
            if type(value) is not str:
                break  # a missing key, a method, another type: Django's own rules
            out.append(value)
        else:
            return "".join(out)
    return compile_template(source).render(Context(context, autoescape=False))


@functools.lru_cache(maxsize=512)
def _plain_parts(source: str) -> tuple | None:
    """The template as literal text and (group, key) lookups, when that is all it is."""
    parts = []
    for node in compile_template(source).nodelist:
        if isinstance(node, TextNode):
            parts.append(node.s)
            continue
        if not isinstance(node, VariableNode):
            return None
        expression = node.filter_expression
        variable = expression.var
        if (
            expression.filters
            or not isinstance(variable, Variable)
            or variable.literal is not None
            or variable.translate
            or variable.lookups is None
            or len(variable.lookups) != 2
        ):
            return None
        parts.append(tuple(variable.lookups))
    return tuple(parts)


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


class _Signer(signing.TimestampSigner):
    """django.core.signing's TimestampSigner, its HMAC key derived once instead of for each
    link (the tokens are the same: `signing.loads` reads them)."""

    def __init__(self, *, salt: str):
        super().__init__(salt=salt)
        hasher = getattr(hashlib, self.algorithm)
        derived = hasher(force_bytes(self.salt + "signer") + force_bytes(self.key)).digest()
        self._mac = hmac.new(derived, digestmod=hasher)

    def signature(self, value, key=None):
        if key is not None and key != self.key:
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()


@functools.lru_cache(maxsize=16)
def _signer(salt: str, secret_key: str) -> _Signer:
    return _Signer(salt=salt)


def _dumps(value, *, salt: str, compress: bool = False) -> str:
    """signing.dumps(value, salt=salt, compress=compress), with a signer kept per salt."""
    return _signer(salt, settings.SECRET_KEY).sign_object(value, compress=compress)


def open_url(message_id: int) -> str:
    return _link("nurture-open", _dumps(message_id, salt=OPEN_SALT))


def click_url(message_id: int, url: str) -> str:
    return _link("nurture-click", _dumps([message_id, url], salt=CLICK_SALT, compress=True))


def unsubscribe_url(message_id: int) -> str:
    return _link("nurture-unsubscribe", _dumps(message_id, salt=UNSUBSCRIBE_SALT))


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
    email = NurtureEmail(
        subject=subject,
        body="\n\n".join(text) + "\n",
        from_email=_envelope_sender(settings.DEFAULT_FROM_EMAIL),
        to=[to_email],
        headers={
            "From": settings.DEFAULT_FROM_EMAIL,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # The same id whatever retry sends it: receivers can see a repeat for what it is.
            "Message-ID": f"<nurture-{enrollment_id}-{step.pk}@handoff>",
        },
    )
    email.attach_alternative("<html><body>" + "\n".join(html) + "</body></html>", "text/html")
    return email


@functools.lru_cache(maxsize=8)
def _envelope_sender(from_email: str) -> str | tuple[str, str]:
    """The sender as a (name, address) pair, which the SMTP backend takes without parsing
    it again for every message; the From header keeps the setting's text."""
    name, address = parseaddr(from_email)
    if address and formataddr((name, address)) == from_email:
        return (name, address)
    return from_email


class NurtureEmail(EmailMultiAlternatives):
    """A nurture e-mail whose bytes, when its parts are plain ASCII, are written directly:
    the email package's generator (header folding above all) cost a worker more CPU than
    everything else it does for a message. The bytes are the ones Django would write
    (tests/nurture/test_mime.py compares them); anything else goes through Django."""

    def recipients(self):
        # (name, address) pairs: the backend's sanitize_address takes them as they are
        # instead of parsing each address again (a tenth of a millisecond a time).
        return [
            ("", address) if _BARE_ADDRESS.fullmatch(address) else address
            for address in super().recipients()
        ]

    def message(self):
        raw = quick_bytes(self)
        if raw is None:
            return super().message()
        return _Written(self, raw)


class _Written:
    """What the e-mail backends ask of `message()`: the bytes at once, the rest (headers,
    charset) from Django's own message, built only if asked for."""

    def __init__(self, email: NurtureEmail, raw: bytes):
        self._email = email
        self._raw = raw
        self._message = None

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if linesep == "\r\n":
            return self._raw
        return self._raw.replace(b"\r\n", linesep.encode())

    def _full(self):
        if self._message is None:
            self._message = super(NurtureEmail, self._email).message()
        return self._message

    def __getattr__(self, name):
        return getattr(self._full(), name)

    def __getitem__(self, name):
        return self._full()[name]

    def __contains__(self, name) -> bool:
        return name in self._full()


_BARE_ADDRESS = re.compile(r"[^\s<>(),;:\"@\[\]]+@[^\s<>(),;:\"@\[\]]+")


# What BytesGenerator(policy=compat32, linesep="\r\n") does to a header, for the values the
# quick path does not write itself.
_FOLD = policy.compat32.clone(linesep="\r\n")
_MAX_HEADER = 78  # compat32's max_line_length
_LINES = re.compile(r"\r\n|\r|\n")
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))  # as email.generator makes them


def _header(name: str, value: str) -> str:
    # Single spaces only: compat32 may rewrite runs of whitespace when it folds.
    if value.isascii() and value == " ".join(value.split()):
        if len(name) + 2 + len(value) <= _MAX_HEADER:
            return f"{name}: {value}\r\n"
        # (After the check above the only whitespace left can be single spaces.)
        if value and " " not in value:
            # One word too long for the line: compat32 moves it whole to the next line.
            return f"{name}: \r\n {value}\r\n"
    name, value = forbid_multi_line_headers(name, value, None)
    return _FOLD.fold(name, value)


def _text_part(subtype: str, text: str) -> str | None:
    """A text/<subtype> part as Django writes a plain ASCII one (7bit), else None."""
    if not text.isascii():
        return None
    if any(len(line) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()):
        return None  # Django would quote-print it
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "MIME-Version: 1.0\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n" + _LINES.sub("\r\n", text)
    )


@functools.lru_cache(maxsize=4)
def _date_header(second: int, localtime: bool) -> str:
    # A Date header has whole seconds: the messages of one second share it.
    return _header("Date", formatdate(second, localtime=localtime))


def quick_bytes(email: EmailMultiAlternatives) -> bytes | None:
    """The e-mail as SMTP bytes (CRLF), or None when it needs Django's full treatment."""
    if (
        email.attachments
        or email.cc
        or email.reply_to
        or not email.body
        or (email.encoding or settings.DEFAULT_CHARSET).lower() != "utf-8"
        or len(email.alternatives) != 1
        or email.alternatives[0][1] != "text/html"
        or email.content_subtype != "plain"
        or email.alternative_subtype != "alternative"
        or {"to", "cc", "reply-to", "date", "subject"}
        & {name.lower() for name in email.extra_headers}
        # Without one Django makes a Message-ID up; nurture e-mails always carry theirs.
        or "message-id" not in {name.lower() for name in email.extra_headers}
    ):
        return None
    text = _text_part("plain", email.body)
    html = _text_part("html", email.alternatives[0][0])
    if text is None or html is None:
        return None
    boundary = "=" * 15 + str(random.randrange(sys.maxsize)).zfill(_BOUNDARY_WIDTH) + "=="
    if f"--{boundary}" in text or f"--{boundary}" in html:
        return None
    headers = [
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
        "MIME-Version: 1.0\r\n",
        _header("Subject", str(email.subject)),
        _header("From", str(email.extra_headers.get("From", email.from_email))),
    ]
    if email.to:
        headers.append(_header("To", ", ".join(str(address) for address in email.to)))
    headers.append(_date_header(int(time.time()), settings.EMAIL_USE_LOCALTIME))
    headers += [
        _header(name, str(value))
        for name, value in email.extra_headers.items()
        if name.lower() != "from"
    ]
    raw = (
        "".join(headers)
        + f"\r\n--{boundary}\r\n{text}\r\n--{boundary}\r\n{html}\r\n--{boundary}--\r\n"
    )
    return raw.encode("ascii")


def template_problem(source: str) -> str | None:
    """A readable error when a subject or body does not compile, else None."""
    try:
        compile_template(source)
    except BadTemplate as exc:
        return str(exc)
    return None
