from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HazardsConfig(AppConfig):
    name = "minesafe.hazards"
    label = "hazards"
    verbose_name = _("Major accident hazards")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        from .services import load_catalogue

        reference = Path(__file__).resolve().parent / "reference"
        register_reference("hazard_escalation", reference / "escalation.yaml", loader=load_catalogue)
