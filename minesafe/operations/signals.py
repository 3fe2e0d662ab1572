"""Production confirmed in a suspended mine (monitoring's surprise inspection) is an offence: production
without resumption acceptance (未经验收擅自复产)."""

from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.monitoring.signals import production_confirmed


@receiver(production_confirmed)
def record_unaccepted_production(sender, flag, actor, **kwargs):
    from .models import Offence
    from .resumption import record_offence

    record_offence(actor, flag.mine, Offence.Kind.UNACCEPTED_RESUMPTION, found_on=flag.inspected_on or
                   timezone.localdate(), description=_("%(signal)s; inspection found: %(f)s") % {
                       "signal": flag.get_signal_display(), "f": flag.findings},
                   source=f"monitoring.productionflag:{flag.pk}")
