from django.contrib import admin

from apologies.api import admin as api_admin  # noqa: F401 - registers the API's admin pages

from .models import AuditEvent, Campaign, CapturedEmail, Consent, CountryPolicy, Delivery, DeliveryEvent, Reply


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "incident", "status", "author", "approved_by", "created"]
    list_filter = ["status"]
    # Status changes go through the campaign pages, where the two-person rule is enforced.
    readonly_fields = ["status", "approved_by", "approved_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["email", "campaign", "channel", "status", "attempts", "sent_at", "esp_message_id"]
    list_filter = ["channel", "status"]
    search_fields = ["email", "esp_message_id"]
    readonly_fields = ["status", "claim", "claimed_at", "sent_at", "esp_message_id"]


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(admin.ModelAdmin):
    """Where tracking events for unknown messages wait to be looked at."""

    list_display = ["event_type", "recipient", "message_id", "occurred_at", "delivery", "applied"]
    list_filter = ["event_type", "applied", ("delivery", admin.EmptyFieldListFilter)]
    search_fields = ["recipient", "message_id"]


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ["from_email", "kind", "channel", "matched_by", "campaign", "received_at"]
    list_filter = ["kind", "channel", "matched_by"]
    search_fields = ["from_email", "subject"]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["email", "choice", "via", "channel", "created", "confirmed_at", "ip"]
    list_filter = ["choice", "via"]
    search_fields = ["email"]
    readonly_fields = ["text_shown", "ip", "user_agent", "created", "confirmation_sent_at", "confirmed_at"]


admin.site.register(CountryPolicy)
admin.site.register(AuditEvent)
admin.site.register(CapturedEmail)
