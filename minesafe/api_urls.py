from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from minesafe.campaigns import api_routes as campaign_routes
from minesafe.enforcement import api_routes as enforcement_routes
from minesafe.evaluation import api_routes as evaluation_routes
from minesafe.hazards import api as hazards_api
from minesafe.inspections import api_routes as inspection_routes
from minesafe.monitoring import api as monitoring_api
from minesafe.monitoring.forecast_api import ForecastView
from minesafe.monitoring.telemetry_api import TelemetryView
from minesafe.monitoring.watch_api import ExplosivesUploadView, MeterUploadView, ProductionFlagViewSet
from minesafe.officers import api_routes as officer_routes
from minesafe.operations import api_routes_disposal as disposal_routes
from minesafe.operations import api_routes_resumption as resumption_routes
from minesafe.operations import api_routes_suspension as suspension_routes
from minesafe.penalties import api_routes as penalty_routes
from minesafe.personnel import api_routes_activities as activity_routes
from minesafe.personnel import api_routes_certificates as certificate_routes
from minesafe.personnel import api_routes_people as people_routes
from minesafe.plan import api_routes as plan_routes
from minesafe.registry import api as registry_api
from minesafe.thirdparty import api_routes as thirdparty_routes
from minesafe.tipoffs import api_routes as tipoff_routes

router = DefaultRouter()
router.register("regions", registry_api.RegionViewSet, basename="region")
router.register("enterprises", registry_api.EnterpriseViewSet, basename="enterprise")
router.register("mines", registry_api.MineViewSet, basename="mine")
router.register("ledger-submissions", registry_api.LedgerSubmissionViewSet, basename="ledgersubmission")
router.register("status-changes", registry_api.StatusChangeViewSet, basename="statuschange")
router.register("leaders", registry_api.LeaderViewSet, basename="leader")
router.register("hazard-items", hazards_api.HazardItemViewSet, basename="hazarditem")
router.register("hazards", hazards_api.HazardViewSet, basename="hazard")
router.register("hazard-extensions", hazards_api.ExtensionViewSet, basename="hazardextension")
router.register("hazard-transitions", hazards_api.HazardTransitionViewSet, basename="hazardtransition")
router.register("escalation-steps", hazards_api.EscalationStepViewSet, basename="escalationstep")
router.register("self-checks", hazards_api.SelfCheckViewSet, basename="selfcheck")
router.register("investigations", hazards_api.InvestigationViewSet, basename="investigation")
router.register("gateways", monitoring_api.GatewayViewSet, basename="gateway")
router.register("sensors", monitoring_api.SensorViewSet, basename="sensor")
router.register("rules", monitoring_api.RuleViewSet, basename="rule")
router.register("alarms", monitoring_api.AlarmViewSet, basename="alarm")
router.register("alarm-events", monitoring_api.AlarmEventViewSet, basename="alarmevent")
router.register("quarantine", monitoring_api.QuarantineViewSet, basename="quarantinedmessage")
router.register("production-flags", ProductionFlagViewSet, basename="productionflag")
router.register("public/leaders", registry_api.PublicLeaderViewSet, basename="public-leader")
for routes in (suspension_routes, resumption_routes, disposal_routes):  # the operations app's parts
    routes.register(router)
for routes in (people_routes, certificate_routes, activity_routes):  # the personnel app's parts
    routes.register(router)
for routes in (inspection_routes, penalty_routes, enforcement_routes, thirdparty_routes, officer_routes,
               tipoff_routes, evaluation_routes, campaign_routes, plan_routes):
    routes.register(router)

urlpatterns = [
    path("telemetry", TelemetryView.as_view(), name="telemetry"),
    path("forecast", ForecastView.as_view(), name="forecast"),
    path("meter-readings", MeterUploadView.as_view(), name="meter-readings"),
    path("explosives-issues", ExplosivesUploadView.as_view(), name="explosives-issues"),
    path("online-rate/", monitoring_api.OnlineRateView.as_view(), name="online-rate"),
    path("", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]
