"""Staff URLs of the replies inbox."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:campaign_id>/replies/", views.campaign_replies, name="replies"),
    path("<int:campaign_id>/replies/log/", views.reply_log, name="reply_log"),
    path("replies/<int:reply_id>/kind/", views.reply_reclassify, name="reply_reclassify"),
]
