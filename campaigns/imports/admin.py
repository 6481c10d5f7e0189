from django.contrib import admin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "file_name", "created_by", "status", "total", "created", "failed")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ImportJob._meta.fields]
