from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    name = "minesafe.operations"
    label = "operations"
    verbose_name = _("Suspension and resumption")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference
        from minesafe.registry.services import STATUS_GUARDS

        from . import signals  # noqa: F401  (production confirmed by monitoring -> offence)
        from .resumption import resumption_guard

        if resumption_guard not in STATUS_GUARDS:
            STATUS_GUARDS.append(resumption_guard)

        register_reference("operations", Path(__file__).resolve().parent / "reference" / "operations.yaml")
