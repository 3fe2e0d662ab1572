from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("minesafe.api_urls")),
    path("", include("minesafe.core.urls")),
    path("", include("minesafe.registry.urls")),
    path("", include("minesafe.hazards.urls")),
    path("", include("minesafe.monitoring.urls")),
    path("", include("minesafe.operations.urls")),
    path("", include("minesafe.personnel.urls")),
    path("", include("minesafe.inspections.urls")),
    path("", include("minesafe.penalties.urls")),
    path("", include("minesafe.enforcement.urls")),
    path("", include("minesafe.thirdparty.urls")),
    path("", include("minesafe.officers.urls")),
    path("", include("minesafe.tipoffs.urls")),
    path("", include("minesafe.evaluation.urls")),
    path("", include("minesafe.campaigns.urls")),
    path("", include("minesafe.plan.urls")),
    path("", include("minesafe.web.urls")),
]
