"""Staff URLs of letters: settings, gifts, batches, returns and previews."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:campaign_id>/letters/", views.campaign_letters, name="letters"),
    path("<int:campaign_id>/letters/settings/", views.letters_settings, name="letters_settings"),
    path("<int:campaign_id>/letters/gifts/", views.letters_gifts, name="letters_gifts"),
    path("<int:campaign_id>/letters/render/", views.letters_render, name="letters_render"),
    path("<int:campaign_id>/letters/progress/", views.letters_progress, name="letters_progress"),
    path("<int:campaign_id>/letters/returns/", views.letters_returns, name="letters_returns"),
    path("letters/batches/<int:batch_id>.zip", views.batch_zip, name="batch_zip"),
    path("letters/batches/<int:batch_id>.pdf", views.batch_pdf, name="batch_pdf"),
    path("letters/batches/<int:batch_id>-manifest.csv", views.batch_manifest, name="batch_manifest"),
    path("letters/batches/<int:batch_id>/mailed/", views.batch_mailed, name="batch_mailed"),
    path("letters/batches/<int:batch_id>/retry/", views.batch_retry, name="batch_retry"),
    path("people/<int:recipient_id>/letter.pdf", views.letter_preview, name="letter_preview"),
    path("people/<int:recipient_id>/letter-<int:page>.png", views.letter_page, name="letter_page"),
    path("people/<int:recipient_id>/letter/draw/", views.letter_preview_draw, name="letter_preview_draw"),
    path("letters/mail-houses/", views.print_profiles, name="print_profiles"),
    path("letters/mail-houses/<int:profile_id>/", views.print_profile_edit, name="print_profile_edit"),
    path("gifts/", views.gift_list, name="gifts"),
    path("gifts/<int:package_id>/", views.gift_edit, name="gift_edit"),
]
