"""Every page asset is served by the site itself: it works offline."""

import re

import pytest

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("path", ["/api/docs/", "/", "/models/", "/accounts/login/"])
def test_pages_load_scripts_and_styles_from_the_site_only(client, db, path):
    page = client.get(path).content.decode()

    assets = [
        url
        for url in ASSET.findall(page)
        if url.endswith((".js", ".css")) or "/static/" in url
    ]
    assert assets, "the page has no assets to check"
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), (
        assets
    )


def test_swagger_ui_and_the_schema_are_served(client, db):
    docs = client.get("/api/docs/")
    schema = client.get("/api/schema/")

    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode()
    assert schema.status_code == 200
    assert b"/api/work-requests/" in schema.content
