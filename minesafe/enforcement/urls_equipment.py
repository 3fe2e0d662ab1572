"""URL patterns of the enforcement equipment ledger (included by urls.py under the "enforcement" namespace)."""

from django.urls import path

from . import views_equipment as views

urlpatterns = [
    path("enforcement/equipment/", views.equipment_list, name="equipment-list"),
    path("enforcement/equipment/new/", views.equipment_new, name="equipment-new"),
    path("enforcement/equipment/export.csv", views.equipment_csv, name="equipment-csv"),
    path("enforcement/equipment/<int:pk>/", views.equipment_detail, name="equipment-detail"),
]
