import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect, resolve_url
from django.utils import translation
from django.utils.cache import patch_vary_headers

from .context import new_request_id, request_id_var


class RequestIdMiddleware:
    """Tags each request with an id that every audit event of that request carries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming[:36] if incoming.isalnum() else new_request_id()
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


POLL_HEADER = "X-MineSafe-Poll"


class IdleTimeoutMiddleware:
    """Logs a person out after SESSION_IDLE_TIMEOUT_S without a request of theirs. A page's own automatic
    refresh (sent with the X-MineSafe-Poll header, as the alarm board's) is checked like any request but
    does not count as activity: an open board must not keep an unattended session alive."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get("last_seen")
            if last_seen is not None and now - last_seen > settings.SESSION_IDLE_TIMEOUT_S:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                query = urlencode({"next": request.get_full_path(), "timeout": 1})
                return redirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")
            if last_seen is None or not request.headers.get(POLL_HEADER):
                request.session["last_seen"] = now
        return self.get_response(request)


class LanguageMiddleware:
    """Pages are Chinese unless the person chose English (the language cookie set by /i18n/setlang/);
    the browser's Accept-Language is not enough, since officials' machines vary. API clients may ask
    for a language with Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            language = translation.get_language_from_request(request)
        else:
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
            supported = {code for code, _ in settings.LANGUAGES}
            language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie", "Accept-Language"])
        return response
