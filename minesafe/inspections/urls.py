from django.urls import path

from . import views

app_name = "inspections"
urlpatterns = [
    path("inspections/", views.inspection_list, name="list"),
    path("inspections/export.csv", views.inspection_export, {"fmt": "csv"}, name="export-csv"),
    path("inspections/export.xlsx", views.inspection_export, {"fmt": "xlsx"}, name="export-xlsx"),
    path("inspections/new/", views.inspection_start, name="start"),
    path("inspections/mines/<int:mine_pk>/", views.mine_inspections, name="mine"),
    path("inspections/checklists/", views.template_list, name="templates"),
    path("inspections/checklists/<int:template_pk>/", views.template_detail, name="template"),
    path("inspections/<int:pk>/", views.inspection_detail, name="detail"),
    path("inspections/<int:pk>/items/<int:item_pk>/", views.item_result, name="item-result"),
    path("inspections/<int:pk>/photos/<int:photo_pk>/", views.photo_download, name="photo"),
    path("inspections/<int:pk>/signatures/<int:signature_pk>/", views.signature_image, name="signature"),
    path("inspections/<int:pk>/documents/<int:document_pk>/", views.document_download, name="document"),
    path("inspections/<int:pk>/exams/<int:person_pk>/", views.exam_take, name="exam"),
]
