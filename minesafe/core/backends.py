from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import services


class LockoutModelBackend(ModelBackend):
    """Password login that counts failures and refuses a locked account, for every login path."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        if services.locked_until(username):
            raise PermissionDenied("account locked")  # stops other backends from trying
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            services.note_failed_login(username)
            return None
        return user if services.note_successful_login(user) else None
