from django.contrib import admin

from .models import (
    AcceptanceCriterion,
    Activity,
    LeadChange,
    Opportunity,
    PipelineStage,
    ReasonCode,
    SlaBreach,
    Task,
    TerritoryRule,
    Transition,
    WorkspaceSettings,
)


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "applies_to", "is_active", "order")
    list_editable = ("is_active", "order")
    search_fields = ("code", "label")


@admin.register(PipelineStage)
class PipelineStageAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "order", "probability", "is_active")
    list_editable = ("order", "probability", "is_active")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Transition)
class TransitionAdmin(admin.ModelAdmin):
    """The log is append-only: it can be read here, never added to, changed or deleted."""

    list_display = (
        "at",
        "lead",
        "from_stage",
        "to_stage",
        "verb",
        "actor",
        "system_actor",
        "reason",
    )
    list_filter = ("verb", "to_stage")
    search_fields = ("lead__email", "lead__external_id", "note")
    raw_id_fields = ("lead",)
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = (
        "lead",
        "amount",
        "currency",
        "pipeline_stage",
        "status",
        "expected_close",
        "owner",
    )
    list_filter = ("status", "pipeline_stage")
    raw_id_fields = ("lead",)
    readonly_fields = ("status", "closed_at")


@admin.register(AcceptanceCriterion)
class AcceptanceCriterionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "field", "required", "is_active", "order")
    list_editable = ("required", "is_active", "order")


@admin.register(TerritoryRule)
class TerritoryRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "countries", "is_active", "order")
    filter_horizontal = ("reps",)
    readonly_fields = ("last_assigned",)


@admin.register(WorkspaceSettings)
class WorkspaceSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "sla_hours", "round_robin")
    readonly_fields = ("last_assigned",)


@admin.register(SlaBreach)
class SlaBreachAdmin(admin.ModelAdmin):
    list_display = ("lead", "mql_since", "due_at", "found_at", "owner", "notified_at")
    raw_id_fields = ("lead",)


# --- a rep's working day: read in the admin, written from the lead page and the API ---------


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("lead", "kind", "outcome", "at", "duration_minutes", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("lead",)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "lead", "owner", "due_at", "done_at")
    list_filter = ("done_at",)
    raw_id_fields = ("lead",)


@admin.register(LeadChange)
class LeadChangeAdmin(admin.ModelAdmin):
    list_display = ("lead", "field", "old", "new", "actor", "at")
    raw_id_fields = ("lead",)

    def has_change_permission(self, request, obj=None):
        return False
