"""Rollups of the transition log: one fact row per lead, and counts per period and dimension.

The log stays the source of truth. `LeadFact` holds what one lead contributes to the
rollups (computed from its log), so a change is applied as "remove the old contribution,
add the new one". The count tables are keyed by grain (a day or a month), the period, and
the dimensions: campaign (0 = every campaign), source ("*" = every source, otherwise "="
followed by the lower-cased source) and owner (-1 = everyone, 0 = unassigned, else the
user id). Every lead is counted in the "every" row of each dimension, so a filtered or
unfiltered report reads a few hundred rows whatever the number of leads.
"""

from django.db import models

from leads.models import Lead
from leads.stages import FORWARD_PATH, Stage

ALL_CAMPAIGNS = 0
ALL_SOURCES = "*"
ALL_OWNERS = -1
NO_OWNER = 0


class Grain(models.TextChoices):
    DAY = "d", "Day"
    MONTH = "m", "Month"


class LeadFact(models.Model):
    """One lead as the rollups see it, recomputed from its log after every change."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="+")
    entered_at = models.DateTimeField()
    entered_on = models.DateField(help_text="The day of its first log row, in the site's zone.")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    stage_since = models.DateTimeField()
    furthest = models.SmallIntegerField(
        help_text="Rank of the furthest forward stage it ever reached (-1: none)."
    )
    source_key = models.CharField(max_length=151)
    owner_key = models.IntegerField()
    campaigns = models.JSONField(default=list, blank=True)
    contribution = models.JSONField(default=list, blank=True)
    counted_through = models.BigIntegerField(
        default=0, help_text="The id of the newest log row this fact was computed from."
    )
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["entered_on"], name="leadfact_entered"),
            models.Index(fields=["stage", "stage_since"], name="leadfact_stage_since"),
            models.Index(fields=["owner_key", "entered_on"], name="leadfact_owner"),
        ]

    def __str__(self) -> str:
        return f"fact for lead {self.lead_id}"


class _Keyed(models.Model):
    grain = models.CharField(max_length=1, choices=Grain.choices)
    period = models.DateField()
    campaign_key = models.IntegerField()
    source_key = models.CharField(max_length=151)
    owner_key = models.IntegerField()

    class Meta:
        abstract = True


NOW_COLUMNS = tuple(f"now_{stage}" for stage in Stage.values)
REACHED_COLUMNS = tuple(f"reached_{stage}" for stage in FORWARD_PATH)
COHORT_COLUMNS = (
    "leads",
    *NOW_COLUMNS,
    *REACHED_COLUMNS,
    "accepts",
    "rejects",
    "nurtured",
    "recycled",
    "unsubscribed",
    "lost",
    "won_amount",
)


class LeadDuration(models.Model):
    """One exact duration of one lead: how long it took to reach a forward stage (kind "to")
    or how long one stay in a stage lasted (kind "in"), with the keys a report filters on.
    Medians and other percentiles are read from these, not from the histogram bins: the bins
    say which rows hold the middle lead, these rows say its exact value."""

    # Indexed once, by leadduration_lead below (the foreign key's own index was a second copy
    # that every refresh and import wrote for nothing).
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=2)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    seconds = models.BigIntegerField()
    entered_on = models.DateField()
    source_key = models.CharField(max_length=151)
    owner_key = models.IntegerField()

    class Meta:
        indexes = [
            # The middle values are read in order of seconds within one histogram bin; the
            # filters a report may add (days, source, owner, a campaign's leads) are in the
            # index too, so PostgreSQL reads the index alone, never the table's rows.
            models.Index(
                fields=["kind", "stage", "seconds"],
                include=["entered_on", "source_key", "owner_key", "lead"],
                name="leadduration_value",
            ),
            models.Index(fields=["lead"], name="leadduration_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stage} {self.seconds}s of lead {self.lead_id}"


class PendingRefresh(models.Model):
    """A lead whose change is not counted yet (its refresh failed or waits for a worker):
    `GET /api/funnel/` reports these as `pending`, and its `as_of` stops at the oldest."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="+")
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"lead {self.lead_id} pending since {self.since}"


class CohortCount(_Keyed):
    """Leads that entered the funnel in the period: where they are now, how far they got."""

    leads = models.IntegerField(default=0)
    now_suspect = models.IntegerField(default=0)
    now_mql = models.IntegerField(default=0)
    now_sal = models.IntegerField(default=0)
    now_sql = models.IntegerField(default=0)
    now_opportunity = models.IntegerField(default=0)
    now_customer = models.IntegerField(default=0)
    now_nurture = models.IntegerField(default=0)
    now_junk = models.IntegerField(default=0)
    reached_suspect = models.IntegerField(default=0)
    reached_mql = models.IntegerField(default=0)
    reached_sal = models.IntegerField(default=0)
    reached_sql = models.IntegerField(default=0)
    reached_opportunity = models.IntegerField(default=0)
    reached_customer = models.IntegerField(default=0)
    accepts = models.IntegerField(default=0, help_text="MQL accept transitions.")
    rejects = models.IntegerField(default=0, help_text="MQL reject transitions.")
    nurtured = models.IntegerField(default=0, help_text="Leads that ever entered nurture.")
    recycled = models.IntegerField(default=0, help_text="Leads recycled back to MQL.")
    unsubscribed = models.IntegerField(default=0)
    lost = models.IntegerField(
        default=0, help_text="Leads that reached opportunity, lost it and were never won."
    )
    won_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_key", "source_key", "owner_key", "grain", "period"],
                name="cohortcount_key",
            )
        ]

    def __str__(self) -> str:
        return f"cohort {self.grain}{self.period}"


class ReachCount(_Keyed):
    """Leads first reaching each forward stage in the period (the trends)."""

    reached_suspect = models.IntegerField(default=0)
    reached_mql = models.IntegerField(default=0)
    reached_sal = models.IntegerField(default=0)
    reached_sql = models.IntegerField(default=0)
    reached_opportunity = models.IntegerField(default=0)
    reached_customer = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_key", "source_key", "owner_key", "grain", "period"],
                name="reachcount_key",
            )
        ]

    def __str__(self) -> str:
        return f"reach {self.grain}{self.period}"


class DurationBin(_Keyed):
    """How long the period's cohort took to reach a stage (kind "to") or stayed in one
    (kind "in"), as a histogram: the count and total seconds per duration bin."""

    kind = models.CharField(max_length=2)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    bin = models.SmallIntegerField()
    n = models.IntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "campaign_key",
                    "source_key",
                    "owner_key",
                    "kind",
                    "grain",
                    "period",
                    "stage",
                    "bin",
                ],
                name="durationbin_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stage} bin {self.bin}"


class ReasonCount(_Keyed):
    """Transitions with a reason (reject, disqualify, lose, junk) made by the period's cohort."""

    verb = models.CharField(max_length=32)
    reason = models.CharField(max_length=64)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "campaign_key",
                    "source_key",
                    "owner_key",
                    "grain",
                    "period",
                    "verb",
                    "reason",
                ],
                name="reasoncount_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.reason}"
