"""Router registrations of suspension reports and controls (api_urls.py calls `register`)."""

from .api_suspension import ControlAssignmentViewSet, ControlRecordViewSet, SuspensionReportViewSet


def register(router) -> None:
    router.register("suspension-reports", SuspensionReportViewSet, basename="suspensionreport")
    router.register("control-records", ControlRecordViewSet, basename="controlrecord")
    router.register("control-assignments", ControlAssignmentViewSet, basename="controlassignment")
