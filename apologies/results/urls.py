"""Staff URLs of results per campaign and per incident."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:campaign_id>/results/", views.campaign_results, name="results"),
    path("<int:campaign_id>/results.csv", views.campaign_results_csv, name="results_csv"),
    path("incident/<int:incident_id>/results/", views.incident_results, name="incident_results"),
]
