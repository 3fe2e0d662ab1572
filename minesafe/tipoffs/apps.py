from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TipoffsConfig(AppConfig):
    name = "minesafe.tipoffs"
    label = "tipoffs"
    verbose_name = _("Whistleblower reports")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("tipoffs", Path(__file__).resolve().parent / "reference" / "tipoffs.yaml")
