from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PersonnelConfig(AppConfig):
    name = "minesafe.personnel"
    label = "personnel"
    verbose_name = _("People and qualifications")

    def ready(self):
        from pathlib import Path

        from minesafe.core.services import register_reference

        register_reference("personnel", Path(__file__).resolve().parent / "reference" / "personnel.yaml")

        from minesafe.operations.resumption import register_check

        def chiefs_examined(mine):
            from .activities import chiefs_examined as check

            return check(mine)

        register_check("chiefs_examined", chiefs_examined)  # 逢查必考: a failed chief blocks resumption
