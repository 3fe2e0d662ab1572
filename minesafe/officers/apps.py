from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OfficersConfig(AppConfig):
    name = "minesafe.officers"
    label = "officers"
    verbose_name = _("Enforcement staff and experts")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("officers", Path(__file__).resolve().parent / "reference" / "officers.yaml")
