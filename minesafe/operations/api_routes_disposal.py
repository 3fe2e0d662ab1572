"""Router registrations of the census and disposal API (called by minesafe/api_urls.py)."""

from . import api_disposal


def register(router) -> None:
    router.register("censuses", api_disposal.CensusViewSet, basename="census")
    router.register("hidden-factors", api_disposal.HiddenFactorViewSet, basename="hiddenfactor")
    router.register("disposal-decisions", api_disposal.DisposalDecisionViewSet, basename="disposaldecision")
    router.register("pond-closure-plans", api_disposal.PondClosurePlanViewSet, basename="pondclosureplan")
    router.register("upgrade-projects", api_disposal.UpgradeProjectViewSet, basename="upgradeproject")
