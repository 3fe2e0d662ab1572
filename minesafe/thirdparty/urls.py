from django.urls import path

from . import views

app_name = "thirdparty"
urlpatterns = [
    path("public/thirdparty/blacklist/", views.public_blacklist, name="public-blacklist"),
    path("public/thirdparty/blacklist.csv", views.public_blacklist_csv, name="public-blacklist-csv"),
    path("thirdparty/", views.index, name="index"),
    path("thirdparty/firms/", views.firm_list, name="firm-list"),
    path("thirdparty/firms/export.<str:fmt>", views.firm_export, name="firm-export"),
    path("thirdparty/firms/new/", views.firm_new, name="firm-new"),
    path("thirdparty/firms/<int:pk>/", views.firm_detail, name="firm-detail"),
    path("thirdparty/firms/<int:pk>/edit/", views.firm_edit, name="firm-edit"),
    path("thirdparty/qualifications/", views.qualification_list, name="qualification-list"),
    path("thirdparty/qualifications/export.<str:fmt>", views.qualification_export, name="qualification-export"),
    path("thirdparty/engagements/", views.engagement_list, name="engagement-list"),
    path("thirdparty/engagements/export.<str:fmt>", views.engagement_export, name="engagement-export"),
    path("thirdparty/engagements/new/", views.engagement_new, name="engagement-new"),
    path("thirdparty/engagements/<int:pk>/", views.engagement_detail, name="engagement-detail"),
    path("thirdparty/checks/", views.check_list, name="check-list"),
    path("thirdparty/checks/export.<str:fmt>", views.check_export, name="check-export"),
    path("thirdparty/checks/<int:pk>/", views.check_detail, name="check-detail"),
    path("thirdparty/cases/", views.case_list, name="case-list"),
    path("thirdparty/cases/export.<str:fmt>", views.case_export, name="case-export"),
    path("thirdparty/cases/new/", views.case_new, name="case-new"),
    path("thirdparty/cases/<int:pk>/", views.case_detail, name="case-detail"),
]
