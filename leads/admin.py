from django.contrib import admin

from .models import Lead


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "email",
        "external_id",
        "company",
        "stage",
        "owner",
        "score",
        "created_at",
    )
    list_filter = ("stage", "do_not_email")
    search_fields = ("email", "external_id", "first_name", "last_name", "company")
    raw_id_fields = ("owner",)
    # The stage is the lifecycle's: change it with a transition, never here.
    readonly_fields = ("stage", "stage_changed_at", "score", "created_at", "updated_at")
