from django.contrib import admin

from .models import PendingTask


@admin.register(PendingTask)
class PendingTaskAdmin(admin.ModelAdmin):
    list_display = ("id", "task", "created_at", "sent_at", "attempts")
    list_filter = ("task",)
    readonly_fields = ("task", "args", "created_at", "sent_at", "attempts")
