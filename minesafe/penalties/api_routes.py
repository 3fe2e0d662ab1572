"""Router registrations of the penalties API (called by minesafe/api_urls.py)."""


def register(router) -> None:
    pass
