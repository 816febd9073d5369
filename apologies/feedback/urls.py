"""Staff URLs of the replies inbox."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:campaign_id>/replies/", views.campaign_replies, name="replies"),
    path("<int:campaign_id>/replies/log/", views.reply_log, name="reply_log"),
    path("replies/unmatched/", views.replies_unmatched, name="replies_unmatched"),
    path("replies/<int:reply_id>/", views.reply_detail, name="reply_detail"),
    path("replies/<int:reply_id>/kind/", views.reply_reclassify, name="reply_reclassify"),
    path("replies/<int:reply_id>/attach/", views.reply_attach, name="reply_attach"),
    path("replies/<int:reply_id>/dismiss/", views.reply_dismiss, name="reply_dismiss"),
    path("replies/<int:reply_id>/restore/", views.reply_restore, name="reply_restore"),
]
