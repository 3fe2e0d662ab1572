from .api_resumption import ResumptionApplicationViewSet


def register(router) -> None:
    router.register("resumption-applications", ResumptionApplicationViewSet, basename="resumptionapplication")
