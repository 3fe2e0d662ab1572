"""Row helpers the services share for a change under lock."""

from minesafe.core import audit


def locked_row(model, obj):
    """The row as it is now, locked; the audit chain's lock is taken first (see audit.lock_chain)."""
    audit.lock_chain()
    return model.objects.select_for_update().get(pk=obj.pk)


def copy_back(source, target) -> None:
    """Refresh the caller's instance from the locked, changed row."""
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
