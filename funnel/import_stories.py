"""The story an import row tells beyond its last stage, for both import paths
(`funnel.imports`): how far the lead got and how it ended (a won or lost deal, a
disqualified lead), the file's dates per stage, and the lead's deal with its owner.

Its log rows are history: they carry `data.imported` whatever their verb (lose, win,
disqualify...), so that nothing reacts to them as to a live move."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import models

from leads.stages import Stage

from .models import Transition

IMPORT_VERB = "import"
# The key a story's log rows carry in `data` (their verbs are lose, win, disqualify...).
IMPORTED = "imported"

FORWARD = (Stage.SUSPECT, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
# The verb of an outcome's last row, by the stage the lead was in when it ended.
OUTCOME_VERB = {
    Stage.SUSPECT: "junk",
    Stage.MQL: "reject",
    Stage.SAL: "disqualify",
    Stage.SQL: "disqualify",
    Stage.OPPORTUNITY: "lose",
}
DEAL_STAGES = (Stage.OPPORTUNITY, Stage.CUSTOMER)


@dataclass
class Story:
    """A lead an import created (old_stage "") or moved, whose log tells more than one
    move: a won or lost deal, a disqualified lead, dates per stage. `story` holds what the
    row said (reached, reason, pipeline_stage, created_at, close_date, amount, deal_owner)."""

    lead_id: int
    old_stage: str
    stage: str
    at: dt.datetime
    story: dict


def _when(value) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def story_rows(
    old_stage: str, stage: str, at: dt.datetime, story: dict
) -> list[tuple[str, str, str, dt.datetime, str]]:
    """The log rows (from, to, verb, at, reason code) that take a lead from `old_stage`
    ("" for a new lead) to `stage` at `at`, as the row tells it:
    - an outcome (nurture or junk, having reached R): forward to R (at the created date),
      then the verb that ends at R (lose after opportunity...) with its reason;
    - won (customer) with a created date: into opportunity then, `win` at `at`;
    - forward with a created date before `at`: entered as suspect then, the stage at `at`.
    A lead so counts for every stage up to where it got, won or lost, and days-to figures
    come from the file's dates."""
    created = _when(story.get("created_at"))
    entry_at = min(created, at) if created else at
    reached = story.get("reached")
    reason = story.get("reason") or ""
    rank = {s: i for i, s in enumerate(FORWARD)}
    rows = []
    current = old_stage
    # Dates per stage (MQL date, SQL date...): forward rows through each stage the file
    # dates, between where the lead is and where it got (never after the last row's date).
    furthest = reached if stage in (Stage.NURTURE, Stage.JUNK) else stage
    waypoints = [
        (s, min(_when(story[f"{s}_at"]), at))
        for s in (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
        if story.get(f"{s}_at")
        and furthest in rank
        and rank[s] < rank[furthest]
        and (current == "" or (current in rank and rank[current] < rank[s]))
    ]
    if waypoints:
        if current == "" and created and created < waypoints[0][1]:
            rows.append(("", Stage.SUSPECT, IMPORT_VERB, created, ""))
            current = Stage.SUSPECT
        last = rows[-1][3] if rows else None
        for s, when in waypoints:
            when = max(when, last) if last else when
            rows.append((current, s, IMPORT_VERB, when, ""))
            current, last = s, when
        created = None  # the entry is told
        entry_at = last  # a stage reached without its own date: no earlier than the last
    if stage in (Stage.NURTURE, Stage.JUNK) and reached in rank:
        if current == "" or (current in rank and rank[current] < rank[reached]):
            rows.append((current, reached, IMPORT_VERB, entry_at, ""))
            current = reached
        verb = OUTCOME_VERB.get(current, IMPORT_VERB)
        if stage == Stage.JUNK:
            verb = "junk"
        rows.append((current, stage, verb, at, reason))
    elif stage == Stage.CUSTOMER:
        if current == "" and created and created < at:
            rows.append(("", Stage.OPPORTUNITY, IMPORT_VERB, created, ""))
            current = Stage.OPPORTUNITY
        verb = "win" if current == Stage.OPPORTUNITY else IMPORT_VERB
        rows.append((current, stage, verb, at, ""))
    elif current == "" and created and created < at and stage != Stage.SUSPECT:
        rows.append(("", Stage.SUSPECT, IMPORT_VERB, created, ""))
        rows.append((Stage.SUSPECT, stage, IMPORT_VERB, at, ""))
    else:
        rows.append((current, stage, IMPORT_VERB, at, ""))
    return rows


class DealOwners:
    """Deal owners named in a file, matched to users by username, e-mail or full name
    (without regard to case), or as the uploader chose for a name that matches nobody
    (`choices`: {name: username, or "" to leave the deal unassigned})."""

    def __init__(self, choices: dict[str, str]):
        self.choices = {name.strip().lower(): username for name, username in choices.items()}
        self._cache: dict[str, int | None] = {}

    def user_id(self, name: str | None) -> int | None:
        if not name:
            return None
        key = name.strip().lower()
        if key not in self._cache:
            self._cache[key] = self._find(key)
        return self._cache[key]

    def _find(self, key: str) -> int | None:
        from django.contrib.auth import get_user_model
        from django.db.models import Value
        from django.db.models.functions import Concat, Lower

        users = get_user_model().objects.filter(is_active=True)
        if key in self.choices:
            chosen = self.choices[key]
            if not chosen:
                return None
            return users.filter(username=chosen).values_list("pk", flat=True).first()
        found = (
            users.annotate(full=Lower(Concat("first_name", Value(" "), "last_name")))
            .filter(
                models.Q(username__iexact=key) | models.Q(email__iexact=key) | models.Q(full=key)
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return found.first()


def deal_owner_matches(names) -> dict[str, int | None]:
    """{name: user id or None} for names in a file: what the mapping page lists."""
    owners = DealOwners({})
    return {name: owners.user_id(name) for name in names}


def tell_stories(
    stories: list[Story],
    *,
    system_actor: str,
    campaign_id: int | None,
    now: dt.datetime,
    owners: DealOwners,
) -> None:
    """Write the stories' log rows and their deals, in the caller's transaction."""
    from .models import Opportunity, PipelineStage, ReasonCode

    reasons = dict(ReasonCode.objects.values_list("code", "pk"))
    pipeline = list(PipelineStage.objects.filter(is_active=True).order_by("order", "pk"))
    by_key = {p.slug.lower(): p for p in pipeline} | {p.name.lower(): p for p in pipeline}
    first_stage = pipeline[0] if pipeline else PipelineStage.objects.order_by("order").first()
    log_rows = []
    deals: list[tuple[Story, str, dt.datetime]] = []
    for item in stories:
        story = item.story or {}
        rows = story_rows(item.old_stage, item.stage, item.at, story)
        for from_stage, to_stage, verb, at, reason in rows:
            log_rows.append(
                Transition(
                    lead_id=item.lead_id,
                    from_stage=from_stage,
                    to_stage=to_stage,
                    verb=verb,
                    system_actor=system_actor[:150],
                    at=at,
                    reason_id=reasons.get(reason),
                    campaign_id=campaign_id,
                    # History, whatever its verb: the nurture reconciler and the like skip it.
                    data={IMPORTED: True},
                )
            )
        reached_deal = story.get("reached") == Stage.OPPORTUNITY
        if item.stage in DEAL_STAGES or (item.stage == Stage.NURTURE and reached_deal):
            status = {
                Stage.OPPORTUNITY: Opportunity.Status.OPEN,
                Stage.CUSTOMER: Opportunity.Status.WON,
            }.get(item.stage, Opportunity.Status.LOST)
            # When the deal began: the row into opportunity, else the story's start.
            began = next((r[3] for r in rows if r[1] == Stage.OPPORTUNITY), rows[0][3])
            deals.append((item, status, began))
    Transition.objects.bulk_create(log_rows, batch_size=2000)
    if not deals:
        return
    open_deals = {
        deal.lead_id: deal
        for deal in Opportunity.objects.filter(
            lead_id__in=[item.lead_id for item, _, _ in deals], status=Opportunity.Status.OPEN
        )
    }
    new_deals, changed = [], []
    for item, status, began in deals:
        story = item.story or {}
        close = _when(story.get("close_date"))
        amount = story.get("amount")
        owner_id = owners.user_id(story.get("deal_owner"))
        pipeline_stage = by_key.get(str(story.get("pipeline_stage", "")).strip().lower())
        closed_at = item.at if status != Opportunity.Status.OPEN else None
        deal = open_deals.get(item.lead_id)
        if deal is not None:
            deal.status = status
            deal.closed_at = closed_at
            if amount is not None:
                deal.amount = Decimal(amount)
            if owner_id is not None:
                deal.owner_id = owner_id
            if pipeline_stage is not None:
                deal.pipeline_stage = pipeline_stage
            if close is not None:
                deal.expected_close = close.date()
            changed.append(deal)
            continue
        new_deals.append(
            Opportunity(
                lead_id=item.lead_id,
                amount=Decimal(amount) if amount is not None else Decimal(0),
                expected_close=(close or item.at).date(),
                owner_id=owner_id,
                pipeline_stage=pipeline_stage or first_stage,
                status=status,
                created_at=began,
                closed_at=closed_at,
            )
        )
    Opportunity.objects.bulk_create(new_deals, batch_size=2000)
    if changed:
        Opportunity.objects.bulk_update(
            changed,
            ["status", "closed_at", "amount", "owner", "pipeline_stage", "expected_close"],
        )
