"""Router registrations of the inspections API (called by minesafe/api_urls.py)."""


def register(router) -> None:
    pass
