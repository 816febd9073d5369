"""Admin pages of the API: tokens (revoke by setting revoked_at; create with manage.py api_token_create) and calls."""

from django.contrib import admin

from apologies.api.models import ApiCall, ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "revoked_at"]
    readonly_fields = ["user", "key_hash", "prefix", "created"]


@admin.register(ApiCall)
class ApiCallAdmin(admin.ModelAdmin):
    """The API's audit trail: read only."""

    list_display = ["at", "user", "method", "path", "status", "ip"]
    list_filter = ["status", "method"]
    search_fields = ["path", "user__username"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
