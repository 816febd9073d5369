"""Staff URLs of campaigns: planning, words, approval, people and country rules."""

from django.urls import path

from . import views

urlpatterns = [
    path("incident/<int:incident_id>/new/", views.campaign_create, name="create"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/settings/", views.campaign_settings, name="settings"),
    path("<int:campaign_id>/plan/", views.campaign_replan, name="replan"),
    path("<int:campaign_id>/submit/", views.campaign_submit, name="submit"),
    path("<int:campaign_id>/approve/", views.campaign_approve, name="approve"),
    path("<int:campaign_id>/approve-changes/", views.campaign_changes_approve, name="approve_changes"),
    path("<int:campaign_id>/reject/", views.campaign_reject, name="reject"),
    path("<int:campaign_id>/cancel/", views.campaign_cancel, name="cancel"),
    path("<int:campaign_id>/templates/", views.campaign_templates, name="templates"),
    path("<int:campaign_id>/templates/add/", views.template_add, name="template_add"),
    path("templates/<int:template_id>/", views.template_save, name="template_save"),
    path("templates/<int:template_id>/delete/", views.template_delete, name="template_delete"),
    path("<int:campaign_id>/people/", views.campaign_recipients, name="recipients"),
    path("<int:campaign_id>/people.csv", views.campaign_recipients_csv, name="recipients_csv"),
    path("people/<int:recipient_id>/", views.recipient_preview, name="preview"),
    path("people/<int:recipient_id>/channel/", views.recipient_override, name="override"),
    path("policies/", views.policies, name="policies"),
]
