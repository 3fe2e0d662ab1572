from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    name = "minesafe.evaluation"
    label = "evaluation"
    verbose_name = _("County evaluation")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("evaluation", Path(__file__).resolve().parent / "reference" / "evaluation.yaml")
