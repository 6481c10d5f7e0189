from django.contrib import admin

from .models import Campaign, CampaignMembership, EngagementEvent


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
