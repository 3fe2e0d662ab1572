"""Page plumbing the enforcement app's parts share: step forms on a detail page, the audit trail, paging."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from minesafe.core.models import AuditEvent
from minesafe.core.webutil import submit_on_form


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%dT%H:%M")
        super().__init__(**kwargs)


def audit_trail(*objects, extra: Q | None = None, limit: int = 100):
    q = Q(pk__in=[])
    for obj in objects:
        q |= Q(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk))
    if extra is not None:
        q |= extra
    return AuditEvent.objects.filter(q).order_by("-seq")[:limit]


def step_forms(request, steps: dict[str, tuple[type[forms.Form], Callable[[dict], object], str]], done_url: str,
               form_kwargs: dict | None = None):
    """The page's step forms (`name -> (form class, service call on cleaned data, success message)`), each with
    its own prefix; a POST names its step in `action`. Returns (redirect or None, forms by name). A POST of a
    step the user has not been offered is refused (403 when none is offered)."""
    form_kwargs = form_kwargs or {}
    bound = {}
    if request.method == "POST":
        if not steps:
            raise PermissionDenied
        name = request.POST.get("action", "")
        if name not in steps:
            messages.error(request, _("This step is not available now."))
            return redirect(done_url), {}
        form_class, call, success = steps[name]
        form = form_class(request.POST, prefix=name, **form_kwargs.get(name, {}))
        if submit_on_form(request, form, call, success):
            return redirect(done_url), {}
        bound[name] = form
    return None, {name: bound.get(name) or form_class(prefix=name, **form_kwargs.get(name, {}))
                  for name, (form_class, _call, _msg) in steps.items()}


def query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
