from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.utils.translation import gettext as _

from . import audit
from .forms import LoginForm
from .models import AuditEvent


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "core/login.html"
    redirect_authenticated_user = True

    def get(self, request, *args, **kwargs):
        if request.GET.get("timeout"):
            messages.info(request, _("You were logged out after 30 minutes without activity."))
        return super().get(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            audit.record(request.user, AuditEvent.Action.LOGOUT, request.user)
        return super().post(request, *args, **kwargs)
