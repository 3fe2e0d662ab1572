"""URL patterns of the key-positions ledger part of the personnel app (included by urls.py under the
"personnel" namespace)."""

from django.urls import path

from . import views_people

urlpatterns = [
    path("personnel/people/", views_people.people_mines, name="people-mines"),
    path("personnel/people/compliance/", views_people.compliance, name="people-compliance"),
    path("personnel/people/compliance.csv", views_people.compliance_csv, name="people-compliance-csv"),
    path("personnel/people/compliance.xlsx", views_people.compliance_xlsx, name="people-compliance-xlsx"),
    path("personnel/people/<int:pk>/", views_people.person_detail, name="person-detail"),
    path("personnel/mines/<int:mine_pk>/people/", views_people.people_mine, name="people-mine"),
]
