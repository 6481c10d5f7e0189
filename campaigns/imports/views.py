import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from . import services
from .forms import MappingForm, UploadForm
from .models import ImportJob
from .report import csv_lines, error_report_rows
from .selectors import (
    import_for_user,
    import_preview,
    imports_list,
    limits,
    require_importer,
)

ERRORS_SHOWN = 100


def _over_size(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    # The multipart envelope adds a little: refuse only what cannot fit the limit.
    return length > settings.HANDOFF_IMPORT_MAX_BYTES + 64 * 1024


@login_required
def import_list(request):
    require_importer(request.user)
    return render(request, "imports/list.html", {"jobs": imports_list()[:200]})


@login_required
@csrf_exempt
def import_new(request):
    """Too large a file is refused from the request's headers, before its body is read (the
    CSRF check would read it first, so it runs after this one)."""
    require_importer(request.user)
    if request.method == "POST" and _over_size(request):
        context = {
            "form": UploadForm(),
            "limits": limits(),
            "refusal": services.too_large_message(),
        }
        return render(request, "imports/new.html", context, status=413)
    return _import_new(request)


@csrf_protect
def _import_new(request):
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.import_job_create(
                    user=request.user,
                    upload=upload,
                    file_name=upload.name,
                    campaign=form.cleaned_data["campaign"],
                    default_stage=form.cleaned_data["stage"],
                )
            except services.ImportRefused as exc:
                form.add_error("file", exc.message)
                return render(
                    request,
                    "imports/new.html",
                    {"form": form, "limits": limits()},
                    status=exc.status,
                )
            messages.success(request, f"{job.file_name}: {job.total:,} rows. Map its columns.")
            return redirect("import-mapping", pk=job.pk)
        return render(request, "imports/new.html", {"form": form, "limits": limits()}, status=400)
    return render(request, "imports/new.html", {"form": UploadForm(), "limits": limits()})


def _samples(job: ImportJob) -> dict[str, list[str]]:
    samples: dict[str, list[str]] = {column: [] for column in job.columns}
    for _, cells in job.sample:
        for column, cell in zip(job.columns, cells, strict=False):
            if cell.strip() and len(samples[column]) < 3:
                samples[column].append(cell[:60])
    return samples


def deal_owner_column(job: ImportJob) -> str | None:
    return next((c for c, t in job.mapping.items() if t == "deal_owner"), None)


@login_required
def import_mapping(request, pk):
    job = import_for_user(request.user, pk)
    if job.status != ImportJob.Status.UPLOADED:
        return redirect("import-detail", pk=job.pk)
    from .mapping import stage_value_mapping

    value_counts = services.file_value_counts(job, "stage")
    stage_values = list(value_counts)
    # Every value of the whole file, with what it means now (chosen, else a preset's).
    job.stage_values = {**stage_value_mapping(stage_values, job.stage_values)}
    form = MappingForm(
        request.POST or None,
        job=job,
        stage_values=stage_values,
        samples=_samples(job),
        value_counts=value_counts,
        owners=services.unmatched_deal_owners(job),
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.chosen()
        stage_column_before = next((c for c, t in job.mapping.items() if t == "stage"), None)
        owner_column_before = deal_owner_column(job)
        problems = services.import_job_set_mapping(job=job, **chosen)
        stage_column = next((c for c, t in job.mapping.items() if t == "stage"), None)
        if problems:
            for problem in problems:
                form.add_error(None, problem)
        elif (
            stage_column != stage_column_before or deal_owner_column(job) != owner_column_before
        ) and (services.distinct_stage_values(job) or services.unmatched_deal_owners(job)):
            # A new stage or owner column: its values need a meaning each before the preview.
            job.stage_values = stage_value_mapping(services.distinct_stage_values(job))
            job.save(update_fields=["stage_values"])
            messages.info(request, "Choose what each stage value and deal owner means.")
            return redirect("import-mapping", pk=job.pk)
        else:
            return redirect("import-preview", pk=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/mapping.html", {"job": job, "form": form}, status=status)


@login_required
def import_preview_page(request, pk):
    job = import_for_user(request.user, pk)
    if job.status != ImportJob.Status.UPLOADED:
        return redirect("import-detail", pk=job.pk)
    from .mapping import check_mapping

    problems = check_mapping(job.mapping)
    undecided = services.undecided_stage_values(job)
    if undecided:
        problems.append(
            "Undecided stage values (choose what each means on the mapping page): "
            + ", ".join(map(repr, undecided[:20]))
            + "."
        )
    return render(
        request,
        "imports/preview.html",
        {"job": job, "preview": import_preview(job), "problems": problems},
    )


@login_required
@require_POST
def import_start(request, pk):
    job = import_for_user(request.user, pk)
    try:
        services.import_job_start(job=job, require_decided=True)
    except services.ImportRefused as exc:
        messages.error(request, exc.message)
        if exc.status == 409:
            return redirect("import-detail", pk=job.pk)
        return redirect("import-mapping", pk=job.pk)
    messages.success(request, f"Import of {job.file_name} started.")
    return redirect("import-detail", pk=job.pk)


@login_required
@require_POST
def import_resume(request, pk):
    job = import_for_user(request.user, pk)
    try:
        services.import_job_resume(job=job)
    except services.ImportRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The import goes on from its last committed batch.")
    return redirect("import-detail", pk=job.pk)


@login_required
def import_detail(request, pk):
    job = import_for_user(request.user, pk)
    context = {
        "job": job,
        "errors": job.row_errors.all()[:ERRORS_SHOWN],
        "can_resume": services.can_resume(job),
    }
    if request.headers.get("HX-Request"):
        return render(request, "imports/detail.html#progress", context)
    return render(request, "imports/detail.html", context)


@login_required
def import_error_report(request, pk):
    return error_report_response(import_for_user(request.user, pk))


def error_report_response(job) -> StreamingHttpResponse:
    """The page's and the API's download of an import's failed rows."""
    response = StreamingHttpResponse(
        csv_lines(error_report_rows(job)), content_type="text/csv; charset=utf-8"
    )
    stem = re.sub(r"[^\w.-]+", "_", job.file_name.rsplit(".", 1)[0]) or "import"
    response["Content-Disposition"] = f'attachment; filename="{stem}-errors.csv"'
    return response
