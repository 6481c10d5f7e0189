from celery import shared_task

from .services import lead_fact_refresh_quietly


@shared_task(name="dashboards.refresh_facts")
def refresh_facts(lead_ids: list[int]) -> int:
    """Bring the rollups of a batch of leads (e.g. one import batch) up to date."""
    for lead_id in lead_ids:
        lead_fact_refresh_quietly(lead_id=lead_id)
    return len(lead_ids)
