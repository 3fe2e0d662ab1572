"""Router registrations of the thirdparty API (called by minesafe/api_urls.py)."""


def register(router) -> None:
    pass
