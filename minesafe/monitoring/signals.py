"""Signals other apps listen to (the monitoring app knows none of them)."""

from django.dispatch import Signal

# A surprise inspection confirmed production in a suspended mine: sent with flag=ProductionFlag, actor=User,
# inside the transaction that closes the flag.
production_confirmed = Signal()
