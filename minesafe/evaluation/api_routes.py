"""Router registrations of the evaluation API (called by minesafe/api_urls.py)."""


def register(router) -> None:
    pass
