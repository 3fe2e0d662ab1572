"""Small helpers the apps' thin views share."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError

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
