from django.urls import path

from . import views

app_name = "tipoffs"
urlpatterns = [
    path("public/tipoffs/new/", views.public_new, name="public-new"),
    path("public/tipoffs/track/", views.public_track, name="public-track"),
    path("tipoffs/", views.tipoff_list, name="list"),
    path("tipoffs/<int:pk>/", views.tipoff_detail, name="detail"),
    path("tipoffs/<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
]
