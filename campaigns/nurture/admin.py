from django.contrib import admin

from .models import Audience, ConsentRecord, ContentAsset, Enrollment, Message, Programme, Step


class StepInline(admin.TabularInline):
    model = Step
    extra = 0


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("name", "priority", "is_active", "created_at")
    inlines = [StepInline]


@admin.register(ContentAsset)
class ContentAssetAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "aida_stage")
    list_filter = ("kind", "aida_stage")


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: looked at, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ("lead", "programme", "status", "enrolled_at", "next_due_at", "failures")
    list_filter = ("status", "programme")
    raw_id_fields = ("lead",)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("to_email", "subject", "status", "sent_at")
    list_filter = ("status",)
    raw_id_fields = ("lead", "enrollment")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("lead", "action", "how", "at")
    raw_id_fields = ("lead", "message")
