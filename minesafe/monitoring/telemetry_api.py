"""POST /api/v1/telemetry: a gateway pushes a batch of readings with its bearer token.

Answers with a per-row report. Valid rows are stored even when others are rejected (200 with the
rejected rows listed); 400 when nothing in the batch could be stored; 401 for a bad token; 413 for
an oversized body or batch. Nothing is partly written: the valid rows commit together or not at all.
"""

from django.db import OperationalError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from . import ingest


class RawBody(BaseParser):
    """Leave the body to the ingest decoder (it reports JSON errors per message, and is faster)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream else b""


def bearer_token(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class TelemetryView(APIView):
    authentication_classes = []  # gateways authenticate with their own token, checked by ingest
    permission_classes = []
    parser_classes = [RawBody]
    throttle_classes = []

    @extend_schema(
        operation_id="telemetry_push", auth=[], request={"application/json": {"type": "object"}},
        responses={200: {"type": "object"}, 400: {"type": "object"}, 401: {"type": "object"},
                   413: {"type": "object"}},
        examples=[OpenApiExample("batch", request_only=True, value={"readings": [
            {"sensor": "DB-01", "ts": "2026-11-30T10:00:00+08:00", "value": 12.5, "unit": "m"}]})],
        description="Push readings with `Authorization: Bearer <gateway token>`. Each reading: sensor code, "
                    "ts (ISO 8601 with offset, or epoch seconds), value, optional unit. Re-sent readings "
                    "are idempotent on (sensor, ts).")
    def post(self, request):
        limit = int(ingest.limits()["max_body_bytes"])
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0  # Django reads no body for a malformed length; the decoder reports it as bad JSON
        if length > limit:
            return Response({"detail": _("message larger than %(n)d bytes") % {"n": limit}, "field": "",
                             "code": "too_large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        raw = request.data if isinstance(request.data, bytes) else b""
        token = bearer_token(request)
        if not token:
            return Response({"detail": _("send the gateway token as 'Authorization: Bearer <token>'"),
                             "field": "token"}, status=status.HTTP_401_UNAUTHORIZED)
        message = ingest.decode("http", raw, token=token)
        if message.errors:
            codes = {e["code"] for e in message.errors}
            code = status.HTTP_400_BAD_REQUEST
            if "bad_token" in codes:
                code = status.HTTP_401_UNAUTHORIZED
            elif "too_large" in codes:
                code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            return Response({"detail": message.errors[0]["reason"], "field": message.errors[0]["field"],
                             "errors": message.errors}, status=code)
        try:
            outcome = ingest.commit([message], quarantine=False)
        except OperationalError:  # database busy or away: nothing was stored, the gateway should send again
            return Response({"detail": _("storage is busy; nothing was stored, send the batch again"),
                             "code": "retry"}, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})
        body = {"accepted": outcome.accepted, "stored": outcome.stored, "duplicates": outcome.duplicates,
                "rejected": message.parsed.errors}
        if message.parsed.errors and not message.parsed.rows:
            body["detail"] = _("no reading in this batch could be stored")
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(body, status=status.HTTP_200_OK)
