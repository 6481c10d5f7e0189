"""The lifecycle stages and the funnel buckets they fall in (DESIGN.md section 1).

The rules for moving between stages live in `funnel.lifecycle`; this module only
names the stages, because the lead record stores one.
"""

from django.db import models


class Stage(models.TextChoices):
    SUSPECT = "suspect", "Suspect"
    MQL = "mql", "MQL"
    SAL = "sal", "SAL"
    SQL = "sql", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    NURTURE = "nurture", "Nurture"
    JUNK = "junk", "Junk"


# The forward path through the funnel; `reached` counts along it.
FORWARD_PATH: tuple[str, ...] = ("suspect", "mql", "sal", "sql", "opportunity", "customer")
FORWARD_RANK = {stage: rank for rank, stage in enumerate(FORWARD_PATH)}

BUCKETS: dict[str, tuple[str, ...]] = {
    "tofu": ("suspect",),
    "mofu": ("mql", "sal", "sql"),
    "bofu": ("opportunity",),
    "won": ("customer",),
    "nurture": ("nurture",),
    "closed": ("junk",),
}
assert set(FORWARD_PATH) | {"nurture", "junk"} == set(Stage.values)
BUCKET_OF = {stage: bucket for bucket, stages in BUCKETS.items() for stage in stages}
