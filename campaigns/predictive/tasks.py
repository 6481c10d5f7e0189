from celery import shared_task

from .services import leads_score_pending, scoring_model_train, scoring_models_nightly


# Reading every lead and fitting takes minutes on a million: the heavy queue, a long limit.
@shared_task(name="predictive.train", time_limit=3600, soft_time_limit=3540)
def train_model(model_id: int) -> str:
    model = scoring_model_train(model_id=model_id)
    return f"model v{model.version}: {model.status}"


@shared_task(name="predictive.train_nightly")
def train_nightly() -> str:
    model = scoring_models_nightly()
    return f"queued model v{model.version}" if model else "a training is under way"


@shared_task(name="predictive.score_pending", time_limit=900, soft_time_limit=880)
def score_pending() -> int:
    """New leads and leads changed since they were scored, with the current model."""
    return leads_score_pending()
