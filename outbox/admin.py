from django.contrib import admin, messages
from django.utils.translation import ngettext

from .models import PendingTask
from .selectors import DEAD, STATES, pending_task_state, pending_tasks_dead, pending_tasks_in_state
from .services import ResendFailed, pending_tasks_resend


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return list(STATES.items())

    def queryset(self, request, queryset):
        if self.value() in STATES:
            return queryset & pending_tasks_in_state(self.value())
        return queryset


@admin.register(PendingTask)
class PendingTaskAdmin(admin.ModelAdmin):
    list_display = ("id", "task", "state", "created_at", "sent_at", "attempts")
    list_filter = (StateFilter, "task")
    readonly_fields = ("task", "args", "created_at", "sent_at", "attempts")
    actions = ["send_again"]

    @admin.display(description="state")
    def state(self, row: PendingTask) -> str:
        return STATES[pending_task_state(row)]

    def has_add_permission(self, request) -> bool:
        return False  # rows are written by the code that queues a task, never by hand

    @admin.action(description="Send the selected task messages again", permissions=["change"])
    def send_again(self, request, queryset):
        try:
            sent = pending_tasks_resend(ids=list(queryset.values_list("pk", flat=True)))
        except ResendFailed as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%d task message sent again.", "%d task messages sent again.", sent) % sent,
            messages.SUCCESS,
        )

    def changelist_view(self, request, extra_context=None):
        dead = pending_tasks_dead().count()
        if dead and request.method == "GET":
            self.message_user(
                request,
                ngettext(
                    "%(n)d task message is past its attempts: beat's sweep no longer sends it."
                    " Filter by state “%(state)s” and send it again (the action, or"
                    " `manage.py outbox_resend --all-dead`).",
                    "%(n)d task messages are past their attempts: beat's sweep no longer sends"
                    " them. Filter by state “%(state)s” and send them again (the action, or"
                    " `manage.py outbox_resend --all-dead`).",
                    dead,
                )
                % {"n": dead, "state": STATES[DEAD]},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)
