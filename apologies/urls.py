"""Every staff URL of apologies, under one namespace: each room lists its own."""

from apologies.campaigns import urls as campaigns
from apologies.feedback import urls as feedback
from apologies.letters import urls as letters
from apologies.results import urls as results
from apologies.sending import urls as sending
from apologies.staff import urls as staff

app_name = "apologies"

urlpatterns = (
    campaigns.urlpatterns
    + sending.urlpatterns
    + feedback.urlpatterns
    + results.urlpatterns
    + letters.urlpatterns
    + staff.urlpatterns
)
