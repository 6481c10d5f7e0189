from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from leads.roles import MANAGER, MARKETER, has_role, roles_of

from .charts import calibration_chart, lift_chart
from .forms import ThresholdForm, TrainForm
from .models import PredictiveSettings
from .selectors import model_history, training_under_way
from .services import (
    current_model,
    min_outcomes,
    predictive_threshold_set,
    scoring_model_request,
)


def _can_train(user) -> bool:
    return has_role(user, MARKETER, MANAGER)


@login_required
@require_http_methods(["GET", "POST"])
def scoring_model(request):
    """The current model, its evaluation, its history; marketers and managers train one.
    Every role reads it: the reps see the probabilities it makes."""
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no Handoff role.")
    prefs = PredictiveSettings.load()
    form = TrainForm(
        request.POST or None,
        initial={"outcome": prefs.outcome, "excluded": "\n".join(prefs.excluded)},
    )
    running = training_under_way()
    status = 200
    if request.method == "POST":
        if not _can_train(request.user):
            raise PermissionDenied("Only marketers and managers train the predictive model.")
        if running is not None:
            messages.error(request, f"Model v{running.version} is training; wait for it.")
            status = 409
        elif form.is_valid():
            model = scoring_model_request(
                user=request.user,
                excluded=form.cleaned_data["excluded"],
                outcome=form.cleaned_data["outcome"],
            )
            messages.success(
                request, f"Training model v{model.version}; this page shows it when done."
            )
            return redirect("scoring-model")
        else:
            status = 400
    model = current_model()
    history = model_history()
    return render(
        request,
        "predictive/model.html",
        {
            "model": model,
            "running": running,
            "history": history,
            "latest": history[0] if history else None,
            "form": form,
            "can_train": _can_train(request.user),
            "calibration": calibration_chart(model.calibration) if model else None,
            "lift": lift_chart(model.lift) if model else None,
            "min_outcomes": min_outcomes(),
            "prefs": prefs,
        },
        status=status,
    )


@login_required
@require_POST
def scoring_threshold(request):
    if not _can_train(request.user):
        raise PermissionDenied("Only marketers and managers set the MQL threshold.")
    form = ThresholdForm(request.POST)
    if form.is_valid():
        percent = form.cleaned_data["mql_probability"]
        predictive_threshold_set(probability=None if percent is None else percent / 100)
        if percent is None:
            messages.success(request, "The points threshold alone makes MQLs.")
        else:
            messages.success(request, f"Leads at {percent:g}% or more become MQLs.")
    else:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect("scoring-rules")
