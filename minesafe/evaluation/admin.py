from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin

from .models import ManualScore, Objection, ScoreSheet


@admin.register(ScoreSheet)
class ScoreSheetAdmin(ReadOnlyModelAdmin):
    """Read-only: sheets change through the evaluation pages (audited), never here."""

    list_display = ["county", "year", "quarter", "status", "total", "catalogue_version", "published_at"]
    list_filter = ["year", "quarter", "status"]


@admin.register(ManualScore)
class ManualScoreAdmin(ReadOnlyModelAdmin):
    list_display = ["sheet", "item", "score", "entered_by", "entered_at"]


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyModelAdmin):
    list_display = ["sheet", "status", "filed_at", "answered_at"]
