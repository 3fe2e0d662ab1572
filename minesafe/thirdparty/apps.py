from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ThirdpartyConfig(AppConfig):
    name = "minesafe.thirdparty"
    label = "thirdparty"
    verbose_name = _("Third-party service firms")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("thirdparty", Path(__file__).resolve().parent / "reference" / "thirdparty.yaml")
