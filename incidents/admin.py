"""Admin pages of incidents; the suppression list is read-only here (contacts.suppressions is its only writer)."""

from django.contrib import admin

from .models import AffectedPerson, Contact, Import, Incident, Suppression, SuppressionChange


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "started_at", "ended_at", "owner"]
    list_filter = ["status"]
    search_fields = ["title"]


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    list_display = ["original_name", "kind", "incident", "status", "rows_read", "imported", "rejected", "created"]
    list_filter = ["kind", "status"]


@admin.register(AffectedPerson)
class AffectedPersonAdmin(admin.ModelAdmin):
    list_display = ["email", "incident", "messages", "max_in_10_min", "state", "tier"]
    list_filter = ["state", "incident"]
    search_fields = ["email"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "country", "address_valid"]
    list_filter = ["country", "address_valid"]
    search_fields = ["email", "last_name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ["email", "reason", "source", "created"]
    list_filter = ["reason"]
    search_fields = ["email"]


@admin.register(SuppressionChange)
class SuppressionChangeAdmin(ReadOnlyAdmin):
    list_display = ["email", "action", "reason", "source", "by", "at"]
    list_filter = ["action", "reason"]
    search_fields = ["email"]
