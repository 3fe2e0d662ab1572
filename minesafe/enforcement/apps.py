from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnforcementConfig(AppConfig):
    name = "minesafe.enforcement"
    label = "enforcement"
    verbose_name = _("Enforcement")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("enforcement_accidents", Path(__file__).resolve().parent / "reference" / "accidents.yaml")
        register_reference("enforcement_plans", Path(__file__).resolve().parent / "reference" / "plans.yaml")
        register_reference("enforcement_risk", Path(__file__).resolve().parent / "reference" / "risk.yaml")
