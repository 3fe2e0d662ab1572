from django.contrib import admin

from .models import AccidentCase


@admin.register(AccidentCase)
class AccidentCaseAdmin(admin.ModelAdmin):
    """The library's imported cases may be edited here (e.g. lessons); accidents change only through services."""

    list_display = ["title", "occurred_on", "kind", "deaths", "source"]
    list_filter = ["source", "kind"]
    search_fields = ["title", "place", "narrative"]
    readonly_fields = ["key", "source", "accident"]
