"""Domain errors that views and the API turn into clear HTTP answers."""


class DomainError(Exception):
    """A request that is well formed but not allowed in the current state (HTTP 409)."""

    status_code = 409

    def __init__(self, message: str, field: str | None = None, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class InvalidTransition(DomainError):
    def __init__(self, message: str):
        super().__init__(message, field="status", code="invalid_transition")
