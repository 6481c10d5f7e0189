from celery import shared_task

from .scoring import scores_recompute


@shared_task(name="campaigns.scores_recompute_all")
def scores_recompute_all() -> dict:
    """Rescore every lead: queued when fit rules change, and daily from beat for the decay."""
    return scores_recompute()
