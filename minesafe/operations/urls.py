from django.urls import path

from . import urls_disposal, urls_resumption, urls_suspension, views

app_name = "operations"
urlpatterns = [
    path("operations/", views.index, name="index"),
    *urls_suspension.urlpatterns,
    *urls_resumption.urlpatterns,
    *urls_disposal.urlpatterns,
]
