from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ThirdpartyConfig(AppConfig):
    name = "minesafe.thirdparty"
    label = "thirdparty"
    verbose_name = _("Third-party service firms")
