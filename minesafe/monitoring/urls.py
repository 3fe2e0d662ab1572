from django.urls import path

from . import views, watch_views

app_name = "monitoring"
urlpatterns = [
    path("monitoring/", views.board, name="board"),
    path("monitoring/live/", views.board_live, name="board-live"),
    path("monitoring/alarms/", views.alarm_list, name="alarms"),
    path("monitoring/alarms/export.xlsx", views.alarm_export_xlsx, name="alarms-xlsx"),
    path("monitoring/alarms/export.csv", views.alarm_export_csv, name="alarms-csv"),
    path("monitoring/alarms/<int:pk>/", views.alarm_detail, name="alarm"),
    path("monitoring/mines/", views.mine_index, name="mines"),
    path("monitoring/mines/<int:pk>/", views.mine_monitoring, name="mine"),
    path("monitoring/sensors/<int:pk>/", views.sensor_detail, name="sensor"),
    path("monitoring/sensors/<int:pk>/readings.csv", views.sensor_readings_csv, name="sensor-readings"),
    path("monitoring/online/", views.online, name="online"),
    path("monitoring/online/export.xlsx", views.online_export, name="online-xlsx"),
    path("monitoring/quarantine/", views.quarantine, name="quarantine"),
    path("monitoring/suspended/", watch_views.watch, name="watch"),
    path("monitoring/suspended/flags/<int:pk>/", watch_views.flag_detail, name="flag"),
    path("monitoring/uploads/", watch_views.upload, name="upload"),
]
