"""Pages are Chinese by default whatever the browser says; English is a choice the person makes."""

from django.conf import settings


def test_pages_are_chinese_even_for_an_english_browser(client, reference):
    page = client.get("/public/leaders/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="zh-hans"' in page.content.decode()
    assert "包保" in page.content.decode()


def test_choosing_english_switches_pages_to_english(client, reference):
    client.post("/i18n/setlang/", {"language": "en", "next": "/public/leaders/"})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/public/leaders/").content.decode()
    assert 'lang="en"' in page and "Responsible leaders" in page


def test_an_unknown_language_cookie_falls_back_to_chinese(client, reference):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert 'lang="zh-hans"' in client.get("/public/leaders/").content.decode()


def test_api_clients_may_ask_for_english_errors(client, personas):
    client.force_login(personas.county_b)
    response = client.post(f"/api/v1/mines/{personas.mine_b.pk}/transition/", {"status": "closed"},
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["reason"] == ["This field is required."]
