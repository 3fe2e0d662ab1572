from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("mines/", views.mine_list, name="mine-list"),
    path("mines/export.xlsx", views.mine_export, name="mine-export"),
    path("mines/new/", views.mine_create, name="mine-create"),
    path("mines/<int:pk>/", views.mine_detail, name="mine-detail"),
    path("mines/<int:pk>/edit/", views.mine_edit, name="mine-edit"),
    path("mines/<int:pk>/status/", views.mine_status, name="mine-status"),
    path("mines/<int:pk>/ledger/", views.mine_ledger, name="mine-ledger"),
    path("ledger/import/", views.ledger_import, name="ledger-import"),
    path("ledger/import/template.xlsx", views.ledger_template, name="ledger-template"),
    path("ledger/import/report/<str:token>.xlsx", views.ledger_import_report, name="ledger-import-report"),
    path("public/leaders/", views.public_leaders, name="public-leaders"),
]
