"""Router registrations of the certificates and training API (called by minesafe/api_urls.py)."""

from . import api_certificates as api


def register(router) -> None:
    router.register("certificates", api.CertificateViewSet, basename="certificate")
    router.register("training-providers", api.TrainingProviderViewSet, basename="trainingprovider")
    router.register("training-records", api.TrainingRecordViewSet, basename="trainingrecord")
    router.register("training-coverage", api.TrainingCoverageViewSet, basename="trainingcoverage")
