"""A small file whose outcome follows two columns, for the API, page and worker tests."""

import io
import math
import random

from campaigns.imports.models import ImportJob
from campaigns.imports.services import import_job_create, import_job_run


def synthetic_csv(rows: int = 400, open_rows: int = 20, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = ["Email,Outcome,Budget,Plan,Noise,Giveaway"]
    for i in range(rows + open_rows):
        budget = rng.randint(0, 100)
        plan = rng.choice(["basic", "team", "enterprise"])
        logit = (budget - 50) / 12 + {"basic": -1.0, "team": 0.0, "enterprise": 1.0}[plan]
        won = rng.random() < 1 / (1 + math.exp(-logit))
        outcome = "open" if i >= rows else ("won" if won else "lost")
        # Filled in after the decision: it gives the answer away.
        giveaway = {"won": "signed", "lost": "declined", "open": ""}[outcome]
        lines.append(f"p{i}@example.com,{outcome},{budget},{plan},{rng.random():.3f},{giveaway}")
    return "\n".join(lines) + "\n"


def import_synthetic(user=None, **options) -> ImportJob:
    job = import_job_create(
        user=user,
        upload=io.BytesIO(synthetic_csv(**options).encode()),
        file_name="synthetic.csv",
        mapping={"email": "Email", "stage": "Outcome"},
        stage_values={"won": "customer", "lost": "nurture", "open": "mql"},
    )
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    return import_job_run(job_id=job.pk)
