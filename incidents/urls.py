"""URLs of the incidents app: incidents, imports, contacts and the suppression list."""

from django.urls import path, re_path

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create, name="create"),
    path("<int:incident_id>/", views.incident_detail, name="detail"),
    path("<int:incident_id>/edit/", views.incident_edit, name="edit"),
    path("<int:incident_id>/people/", views.incident_people, name="people"),
    re_path(r"^(?P<incident_id>[0-9]+)/affected\.(?P<fmt>csv|json)$", views.incident_export, name="export"),
    path("<int:incident_id>/upload/", views.import_upload, name="upload"),
    path("imports/<int:import_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:import_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:import_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:import_id>/discard/", views.import_discard, name="import_discard"),
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/upload/", views.contact_upload, name="contact_upload"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("suppressions/", views.suppression_list, name="suppressions"),
    path("suppressions/add/", views.suppression_add, name="suppression_add"),
    path("suppressions/upload/", views.suppression_upload, name="suppression_upload"),
]
