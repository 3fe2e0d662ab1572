from django.urls import path

from . import views

app_name = "officers"
urlpatterns = [
    path("officers/", views.officer_list, name="list"),
    path("officers/new/", views.officer_new, name="new"),
    path("officers/summary/", views.officer_summary, name="summary"),
    path("officers/training/new/", views.training_new, name="training-new"),
    path("officers/<int:pk>/", views.officer_detail, name="detail"),
]
