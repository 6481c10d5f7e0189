from django.contrib import admin

from .models import (
    Campaign,
    CampaignMembership,
    CaptureSubmission,
    EngagementEvent,
    ScoringRule,
    Segment,
)
from .services import scores_recompute_queue


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "channel", "created_at")
    list_filter = ("channel",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(CampaignMembership)
class CampaignMembershipAdmin(admin.ModelAdmin):
    list_display = ("lead", "campaign", "how", "joined_at", "touched_at", "touches")
    list_filter = ("how", "campaign")
    raw_id_fields = ("lead",)


@admin.register(EngagementEvent)
class EngagementEventAdmin(admin.ModelAdmin):
    list_display = ("at", "lead", "kind", "points", "campaign", "detail")
    list_filter = ("kind",)
    raw_id_fields = ("lead",)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "match", "updated_at")
    search_fields = ("name", "slug")
    readonly_fields = ("conditions",)  # edited on /segments/, where they are validated


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "segment", "points", "is_active")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        scores_recompute_queue()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        scores_recompute_queue()


@admin.register(CaptureSubmission)
class CaptureSubmissionAdmin(admin.ModelAdmin):
    list_display = ("at", "campaign", "lead", "via", "stage_before", "stage_after", "utm_source")
    list_filter = ("via", "campaign")
    raw_id_fields = ("lead",)
