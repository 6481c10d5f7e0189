from django.conf import settings
from django.db import models
from django.utils import timezone

from leads.stages import Stage


class ImportJob(models.Model):
    """One uploaded file and its import: the mapping chosen, the progress, the outcome."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded, to map"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class OnDuplicate(models.TextChoices):
        UPDATE = "update", "Update: fill and overwrite the mapped fields"
        SKIP = "skip", "Skip: leave existing leads as they are"

    class Phase(models.TextChoices):
        READ = "read", "Reading the file"
        MERGE = "merge", "Writing leads"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
    )
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, help_text="Where the upload is kept on disk.")
    file_size = models.BigIntegerField(default=0)
    encoding = models.CharField(max_length=20, default="utf-8")
    delimiter = models.CharField(max_length=1, default=",")
    columns = models.JSONField(default=list)
    sample = models.JSONField(default=list, help_text="The first rows: [line, [cells]].")
    mapping = models.JSONField(default=dict, help_text="{column: target}")
    stage_values = models.JSONField(default=dict, help_text="{value in the file: stage}")
    default_stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.SUSPECT)
    dayfirst = models.BooleanField(null=True, blank=True)
    on_duplicate = models.CharField(
        max_length=8, choices=OnDuplicate.choices, default=OnDuplicate.UPDATE
    )
    # History does not fire: the file's open MQLs go round robin only when asked for.
    assign_open_mqls = models.BooleanField(
        default=False, help_text="Hand the file's open, unassigned MQLs round robin when done."
    )
    enrol_nurture = models.BooleanField(
        default=False,
        help_text="Enrol the file's leads that ended in nurture in their nurture programme.",
    )
    owner_choices = models.JSONField(
        default=dict,
        blank=True,
        help_text="{deal owner name in the file: username, or '' for unassigned}, for names "
        "that match no user.",
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.READ)
    total = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(
        default=0, help_text="Rows merged into another row of the file (counted as skipped)."
    )
    failed = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, default="")
    # Resuming: the worker holding the job, where it got to, when it was last heard of.
    runner = models.CharField(max_length=32, blank=True, default="")
    resume_after = models.TextField(blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="importjob_status")]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name}"

    @property
    def system_actor(self) -> str:
        """How the log names the import: its uploader and its number."""
        who = self.created_by.get_username() if self.created_by_id else ""
        name = f"import #{self.pk} ({self.file_name})"
        return (f"{who}, {name}" if who else name)[:150]

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.processed / self.total))


class ImportRowError(models.Model):
    """A row that could not be imported: its line, the column and the reason, and its cells
    as they were, for the error report."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True, default="")
    message = models.TextField()
    cells = models.JSONField(default=list)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["job", "line"], name="importrowerror_job_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
