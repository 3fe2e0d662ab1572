"""Router registrations of the key-positions ledger API (called by minesafe/api_urls.py)."""

from . import api_people


def register(router) -> None:
    router.register("people", api_people.PersonViewSet, basename="person")
    router.register("appointments", api_people.AppointmentViewSet, basename="appointment")
    router.register("people-compliance", api_people.PeopleComplianceViewSet, basename="people-compliance")
