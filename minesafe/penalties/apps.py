from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PenaltiesConfig(AppConfig):
    name = "minesafe.penalties"
    label = "penalties"
    verbose_name = _("Penalties")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        from .risk import register as register_risk_factor

        reference = Path(__file__).resolve().parent / "reference"
        register_reference("penalties", reference / "penalties.yaml")
        register_reference("penalty_legal_basis", reference / "legal_basis.yaml")
        register_reference("penalty_benchmark", reference / "benchmark.yaml")
        register_risk_factor()  # penalty history as a factor of the enforcement app's risk score
