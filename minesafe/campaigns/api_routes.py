"""Router registrations of the campaigns API (called by minesafe/api_urls.py)."""


def register(router) -> None:
    pass
