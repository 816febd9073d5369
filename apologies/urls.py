from django.urls import path

from . import views

app_name = "apologies"

urlpatterns = [
    path("incident/<int:incident_id>/new/", views.campaign_create, name="create"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/progress/", views.campaign_progress, name="progress"),
    path("<int:campaign_id>/settings/", views.campaign_settings, name="settings"),
    path("<int:campaign_id>/plan/", views.campaign_replan, name="replan"),
    path("<int:campaign_id>/submit/", views.campaign_submit, name="submit"),
    path("<int:campaign_id>/approve/", views.campaign_approve, name="approve"),
    path("<int:campaign_id>/reject/", views.campaign_reject, name="reject"),
    path("<int:campaign_id>/start/", views.campaign_start, name="start"),
    path("<int:campaign_id>/pause/", views.campaign_pause, name="pause"),
    path("<int:campaign_id>/resume/", views.campaign_resume, name="resume"),
    path("<int:campaign_id>/cancel/", views.campaign_cancel, name="cancel"),
    path("<int:campaign_id>/templates/", views.campaign_templates, name="templates"),
    path("<int:campaign_id>/templates/add/", views.template_add, name="template_add"),
    path("templates/<int:template_id>/", views.template_save, name="template_save"),
    path("<int:campaign_id>/people/", views.campaign_recipients, name="recipients"),
    path("<int:campaign_id>/people.csv", views.campaign_recipients_csv, name="recipients_csv"),
    path("people/<int:recipient_id>/", views.recipient_preview, name="preview"),
    path("people/<int:recipient_id>/channel/", views.recipient_override, name="override"),
    path("people/<int:recipient_id>/test/", views.recipient_test_send, name="test_send"),
    path("deliveries/<int:delivery_id>/resolve/", views.delivery_resolve, name="resolve"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:email_id>/", views.outbox_email, name="outbox_email"),
    path("policies/", views.policies, name="policies"),
    path("<int:campaign_id>/replies/", views.campaign_replies, name="replies"),
    path("<int:campaign_id>/replies/log/", views.reply_log, name="reply_log"),
    path("replies/<int:reply_id>/kind/", views.reply_reclassify, name="reply_reclassify"),
    path("<int:campaign_id>/results/", views.campaign_results, name="results"),
    path("<int:campaign_id>/results.csv", views.campaign_results_csv, name="results_csv"),
    path("incident/<int:incident_id>/results/", views.incident_results, name="incident_results"),
]
