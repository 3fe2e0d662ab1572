"""Page plumbing the enforcement app's parts share: step forms on a detail page, the audit trail, paging."""


from django import forms

from minesafe.core.webutil import audit_trail, query_without_page, step_forms  # noqa: F401 (shared)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%dT%H:%M")
        super().__init__(**kwargs)
