from celery import shared_task

from .services import lead_facts_refresh_quietly

# Leads refreshed per transaction: their rollup changes are folded into one write, and the
# leads stay locked (a rep's move of one of them waits) for a fraction of a second.
REFRESH_BATCH = 200


@shared_task(name="dashboards.refresh_facts")
def refresh_facts(lead_ids: list[int], batch: int = REFRESH_BATCH) -> int:
    """Bring the rollups of a batch of leads (e.g. one import batch) up to date, `batch`
    leads per transaction: a worker killed midway keeps what it committed, and the run
    that takes the task over refreshes the rest (a refresh of a lead already up to date
    changes nothing)."""
    for start in range(0, len(lead_ids), batch):
        lead_facts_refresh_quietly(lead_ids=lead_ids[start : start + batch])
    return len(lead_ids)
