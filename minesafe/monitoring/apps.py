from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "minesafe.monitoring"
    label = "monitoring"
    verbose_name = _("Online monitoring")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("sensor_kinds", Path(__file__).resolve().parent / "reference" / "sensor_kinds.yaml")
