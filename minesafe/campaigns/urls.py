from django.urls import path

from . import views, views_publicity

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_new, name="new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("campaigns/<int:pk>/start/", views.campaign_start, name="start"),
    path("campaigns/<int:pk>/close/", views.campaign_close, name="close"),
    path("campaigns/<int:pk>/sites/", views.site_list, name="sites"),
    path("campaigns/<int:pk>/sites/add/", views.site_add, name="site-add"),
    path("campaigns/<int:pk>/sites/export.csv", views.site_export, {"fmt": "csv"}, name="site-export-csv"),
    path("campaigns/<int:pk>/sites/export.xlsx", views.site_export, {"fmt": "xlsx"}, name="site-export-xlsx"),
    path("campaigns/sites/<int:pk>/", views.site_detail, name="site"),
    path("publicity/", views_publicity.event_list, name="events"),
    path("publicity/new/", views_publicity.event_new, name="event-new"),
    path("publicity/export.csv", views_publicity.event_export, {"fmt": "csv"}, name="event-export-csv"),
    path("publicity/export.xlsx", views_publicity.event_export, {"fmt": "xlsx"}, name="event-export-xlsx"),
    path("publicity/<int:pk>/", views_publicity.event_detail, name="event"),
    path("publicity/<int:pk>/evidence/<int:evidence_pk>/", views_publicity.evidence_download,
         name="evidence"),
]
