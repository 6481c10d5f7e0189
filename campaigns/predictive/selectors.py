from .models import ScoringModel


def training_under_way() -> ScoringModel | None:
    from .services import scoring_model_stale_trainings_fail

    scoring_model_stale_trainings_fail()
    return (
        ScoringModel.objects.filter(status=ScoringModel.Status.TRAINING)
        .defer("artifact")
        .order_by("-version")
        .first()
    )


def model_history(limit: int = 20) -> list[ScoringModel]:
    models = ScoringModel.objects.defer("artifact").select_related("requested_by")
    return list(models.order_by("-version")[:limit])
