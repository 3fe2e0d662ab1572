"""URL patterns of the resumption pages (included by urls.py under the "operations" namespace)."""

from django.urls import path

from . import views_resumption as views

urlpatterns = [
    path("operations/resumption/", views.application_list, name="resumptions"),
    path("operations/resumption/apply/<int:mine_pk>/", views.apply, name="resumption-apply"),
    path("operations/resumption/<int:pk>/", views.application_detail, name="resumption"),
]
