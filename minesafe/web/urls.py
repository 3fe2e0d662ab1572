from django.urls import path

from . import views, views_dashboard

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("enforcement/", views.enforcement_hub, name="enforcement"),
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/screen/", views_dashboard.dashboard_screen, name="dashboard-screen"),
    path("dashboard/panels/", views_dashboard.dashboard_panels, name="dashboard-panels"),
    path("dashboard/mines.geojson", views_dashboard.dashboard_mines, name="dashboard-mines"),
]
