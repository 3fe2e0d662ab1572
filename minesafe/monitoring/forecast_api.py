"""POST /api/v1/forecast: replay a posted displacement series through the failure-time forecaster.

The same announcements as `minesafe forecast FILE.csv`. It reads and stores nothing, so any signed-in
user may call it; bad input is a 400 naming the reading.
"""

import datetime as dt

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import forecast as fc

MAX_READINGS = 100_000


class SeriesInputError(ValueError):
    def __init__(self, field: str, index: int | None, reason: str):
        super().__init__(reason)
        self.field, self.index, self.reason = field, index, reason


def parse_series(body) -> list[tuple[float, float]]:
    """[{"time": ISO 8601, "displacement_mm": number}, …] → (epoch, mm); SeriesInputError naming the reading."""
    if not isinstance(body, dict) or not isinstance(body.get("series"), list):
        raise SeriesInputError("series", None, _("expected an object with a list \"series\""))
    readings = body["series"]
    if len(readings) > MAX_READINGS:
        raise SeriesInputError("series", None, _("at most %(n)d readings") % {"n": MAX_READINGS})
    sign = -1.0 if body.get("negative") is True else 1.0
    series = []
    for i, item in enumerate(readings):
        if not isinstance(item, dict):
            raise SeriesInputError("series", i, _("each reading must be an object"))
        try:
            moment = dt.datetime.fromisoformat(str(item.get("time", "")).replace("Z", "+00:00"))
        except ValueError:
            raise SeriesInputError("time", i, _("not an ISO 8601 time")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        value = item.get("displacement_mm")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SeriesInputError("displacement_mm", i, _("must be a number"))
        series.append((moment.timestamp(), sign * float(value)))
    return series


class ForecastView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="forecast_replay", request={"application/json": {"type": "object"}},
        responses={200: {"type": "object"}, 400: {"type": "object"}},
        examples=[OpenApiExample("series", request_only=True, value={"series": [
            {"time": "2026-11-01T00:00:00Z", "displacement_mm": 0.0},
            {"time": "2026-11-01T01:00:00Z", "displacement_mm": 0.4}]})],
        description="Replay a cumulative displacement series (times ISO 8601; without offset taken as UTC; "
                    "`negative: true` when the sensor counts movement as negative) reading by reading. Returns "
                    "the forecasts as they would have been published (issued_at, failure_at, band_from, band_to, "
                    "fit_quality) and withdrawals (withdrawn_at, reason).")
    def post(self, request):
        try:
            series = parse_series(request.data)
            states = list(fc.replay(series))
        except SeriesInputError as exc:
            return Response({"detail": exc.reason, "field": exc.field, "index": exc.index},
                            status=status.HTTP_400_BAD_REQUEST)
        except fc.SeriesError as exc:
            return Response({"detail": str(exc), "field": "series", "index": exc.index},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response({"readings": len(series), "events": [fc.as_json(e) for e in fc.announcements(states)]})
