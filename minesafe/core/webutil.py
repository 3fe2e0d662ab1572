"""Small helpers the apps' thin views share."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .errors import DomainError


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc)


def attempt(request, action: Callable[[], object], success: str):
    """Run a service call for a form post; show its refusal as a message instead of an error page."""
    try:
        result = action()
    except (ValidationError, DomainError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return None
    messages.success(request, success)
    return result if result is not None else True


def form_errors_message(request, form) -> None:
    messages.error(request, "; ".join(f"{form.fields[f].label if f in form.fields else ''}: {' '.join(e)}"
                                      for f, e in form.errors.items()))


def submit(request, form, action: Callable[[dict], object], success: str):
    """A form post in one step: run the service on valid data, or say what is wrong with the form."""
    if form.is_valid():
        return attempt(request, lambda: action(form.cleaned_data), success)
    form_errors_message(request, form)
    return None


def submit_on_form(request, form, action: Callable[[dict], object], success: str):
    """Like `submit`, but a refusal is shown on the form itself (for pages with several forms): a
    service's field errors on their fields, anything else above the form. Returns the service's
    result (or True), or None."""
    if not form.is_valid():
        return None
    try:
        result = action(form.cleaned_data)
    except ValidationError as exc:
        for field, msgs in (exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]):
            form.add_error(field if field in form.fields else None, msgs)
        return None
    except (DomainError, PermissionDenied) as exc:
        form.add_error(None, error_text(exc))
        return None
    messages.success(request, success)
    return result if result is not None else True


def step_forms(request, steps: dict[str, tuple], done_url: str, *, allowed: bool | None = None,
               form_kwargs: dict | None = None, unknown_step: str = "message"):
    """A page's step forms: `name -> (form class or factory, service call on cleaned data, success message
    [, form kwargs])`, each form with its own prefix; a POST names its step in `action`.

    Returns (redirect or None, forms by name). A POST is refused (403) when `allowed` is false (by default: when
    no step is offered). A step not offered now is answered with a message (`unknown_step="message"`) or refused
    (`"forbid"`). A service's refusal shows on the form that was posted."""
    allowed = bool(steps) if allowed is None else allowed
    form_kwargs = form_kwargs or {}

    def build(name: str, data=None):
        factory, *_rest = steps[name]
        kwargs = {**(steps[name][3] if len(steps[name]) > 3 else {}), **form_kwargs.get(name, {})}
        return factory(prefix=name, **kwargs) if data is None else factory(data, prefix=name, **kwargs)

    bound = {}
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied
        name = request.POST.get("action", "")
        if name not in steps:
            if unknown_step == "forbid":
                raise PermissionDenied
            messages.error(request, _("This step is not available now."))
            return redirect(done_url), {}
        form = build(name, request.POST)
        if submit_on_form(request, form, steps[name][1], steps[name][2]):
            return redirect(done_url), {}
        bound[name] = form
    return None, {name: bound.get(name) or build(name) for name in steps}


def query_without_page(request) -> str:
    """The list's query string without its page number (for the pager's links)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def audit_trail(*objects, extra=None, limit: int = 100):
    """The audit events of the objects (and of any `extra` Q on AuditEvent), newest first, for a detail page."""
    from django.db.models import Q

    from .models import AuditEvent

    q = Q(pk__in=[])
    for obj in objects:
        q |= Q(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk))
    if extra is not None:
        q |= extra
    return AuditEvent.objects.filter(q).order_by("-seq")[:limit]
