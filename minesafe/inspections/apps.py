from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "minesafe.inspections"
    label = "inspections"
    verbose_name = _("Inspections")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        from .checklists import ensure_default_templates

        # The catalogue file, and the default checklists built from the active hazard standard (the hazards
        # app's loader runs first: it is registered by an app listed earlier).
        register_reference("inspections", Path(__file__).resolve().parent / "reference" / "inspections.yaml",
                           loader=ensure_default_templates)
