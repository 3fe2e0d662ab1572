"""Router registrations of the campaigns API (called by minesafe/api_urls.py)."""

from . import api


def register(router) -> None:
    router.register("campaigns", api.CampaignViewSet, basename="campaign")
    router.register("campaign-sites", api.CampaignSiteViewSet, basename="campaignsite")
    router.register("publicity-events", api.PublicityEventViewSet, basename="publicityevent")
