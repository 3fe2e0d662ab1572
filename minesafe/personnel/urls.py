from django.urls import path

from . import urls_activities, urls_certificates, urls_people, views

app_name = "personnel"
urlpatterns = [
    path("personnel/", views.index, name="index"),
    *urls_people.urlpatterns,
    *urls_certificates.urlpatterns,
    *urls_activities.urlpatterns,
]
