from django.contrib import admin

from console.models import AuditEntry, Job


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "username", "cluster", "action", "target", "outcome")
    list_filter = ("outcome", "cluster", "action")
    search_fields = ("target", "username")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit log is append-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "cluster", "target", "state")
    list_filter = ("state", "kind")
