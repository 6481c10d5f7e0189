"""Validation of the fields a verb needs (DESIGN.md: qualify takes BANT, convert an amount...)."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.dateparse import parse_date

from .errors import InvalidTransition
from .lifecycle import BANT, Rule
from .models import PipelineStage, ReasonCode

MAX_ANSWER = 2000


def clean_reason(rule: Rule, reason) -> ReasonCode | None:
    if reason in (None, ""):
        if rule.needs_reason:
            raise InvalidTransition(
                f"{rule.label} needs a reason.",
                errors={"reason": [f"A reason code is required to {rule.verb}."]},
            )
        return None
    if isinstance(reason, ReasonCode):
        code = reason
    else:
        code = ReasonCode.objects.filter(code=str(reason).strip(), is_active=True).first()
        if code is None:
            raise InvalidTransition(
                f"Unknown reason code {reason!r}.",
                errors={"reason": [f"{reason!r} is not a reason code in use; see /api/reasons/."]},
            )
    if not code.applies(rule.verb):
        raise InvalidTransition(
            f"The reason {code.code!r} is not used to {rule.verb}.",
            errors={"reason": [f"{code.code!r} applies to {', '.join(code.applies_to)}."]},
        )
    return code


def clean_qualification(fields: dict) -> dict:
    answers, errors = {}, {}
    for question in BANT:
        value = fields.get(question)
        if isinstance(value, dict):
            value = value.get("note") or value.get("answer")
        text = str(value).strip() if value is not None else ""
        if not text:
            errors[question] = [f"{question.capitalize()} needs an answer to qualify."]
        elif len(text) > MAX_ANSWER:
            errors[question] = [f"Keep the answer under {MAX_ANSWER} characters."]
        else:
            answers[question] = text
    if errors:
        raise InvalidTransition(
            "Qualifying needs budget, authority, need and timeline.", errors=errors
        )
    return answers


def clean_conversion(fields: dict, *, today: dt.date) -> dict:
    errors: dict[str, list[str]] = {}
    amount = None
    raw_amount = fields.get("amount")
    try:
        amount = Decimal(str(raw_amount).strip())
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["amount"] = ["The amount must be a number, e.g. 12000 or 12000.50."]
    else:
        limit = settings.HANDOFF_MAX_OPPORTUNITY_AMOUNT
        if amount <= 0:
            errors["amount"] = ["The amount must be more than zero."]
        elif amount > limit:
            errors["amount"] = [f"The amount must be at most {limit:,}."]
        elif amount != amount.quantize(Decimal("0.01")):
            errors["amount"] = ["The amount has at most two decimals."]
        else:
            amount = amount.quantize(Decimal("0.01"))

    raw_close = fields.get("expected_close")
    close = raw_close if isinstance(raw_close, dt.date) else None
    if close is None and isinstance(raw_close, str):
        try:
            close = parse_date(raw_close.strip())
        except ValueError:
            close = None
    if close is None:
        errors["expected_close"] = ["The expected close date is required, as YYYY-MM-DD."]
    elif close < today:
        errors["expected_close"] = ["The expected close date cannot be in the past."]
    elif close > today + dt.timedelta(days=3660):
        errors["expected_close"] = ["The expected close date is more than ten years away."]

    stage = None
    stage_slug = fields.get("pipeline_stage")
    stages = PipelineStage.objects.filter(is_active=True)
    if stage_slug:
        stage = stages.filter(slug=str(stage_slug)).first()
        if stage is None:
            errors["pipeline_stage"] = [f"{stage_slug!r} is not an active pipeline stage."]
    else:
        stage = stages.first()
        if stage is None:
            errors["pipeline_stage"] = ["No active pipeline stage exists; a manager must add one."]

    currency = str(fields.get("currency") or settings.HANDOFF_CURRENCY).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = ["The currency is a three-letter code such as EUR."]

    if errors:
        raise InvalidTransition(
            "Converting needs a valid amount and expected close date.", errors=errors
        )
    return {
        "amount": amount,
        "expected_close": close,
        "pipeline_stage": stage,
        "currency": currency,
    }
