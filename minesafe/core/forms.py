from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from . import services


class LoginForm(AuthenticationForm):
    """Says plainly when an account is locked, before any password is tried."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("This account is locked after repeated failed logins until %(until)s."),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and (until := services.locked_until(username)):
            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"until": formats.date_format(timezone.localtime(until), "Y-m-d H:i")},
            )
        return super().clean()
