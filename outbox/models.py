from django.db import models
from django.utils import timezone


class PendingTask(models.Model):
    """A task message written in the transaction whose work it carries.

    Sent to the broker on commit; deleted when a worker has run the task. What the broker
    never took (Redis down at the commit) or lost (Redis restarted, a worker killed before
    it acknowledged) is still here, and beat's sweep sends it again.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "created_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)!r}"
