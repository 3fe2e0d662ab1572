from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "minesafe.campaigns"
    label = "campaigns"
    verbose_name = _("Special campaigns and publicity")

    def ready(self):
        from minesafe.inspections import checklists

        from . import services, signals

        # A campaign checklist is accepted for a mine that is a site of a running campaign using it; sites follow
        # their inspections, findings and hazards.
        checklists.register_campaign_check(services.accepts)
        signals.connect()
