"""The dashboard's files: served by the app itself, nothing loaded from elsewhere."""

import re

import pytest
from fastapi.testclient import TestClient

from qgjob.web import static_dir


def test_the_dashboard_is_the_home_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in response.text


@pytest.mark.parametrize(("name", "content_type"), [
    ("app.js", "text/javascript"), ("dom.js", "text/javascript"),
    ("overview.js", "text/javascript"), ("jobs.js", "text/javascript"),
    ("timeline.js", "text/javascript"), ("app.css", "text/css"), ("ansi.js", "text/javascript"),
    ("logbox.js", "text/javascript"), ("favicon.svg", "image/svg+xml")])
def test_its_code_and_style(client: TestClient, name: str, content_type: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.text == (static_dir() / name).read_text()


def test_the_icon_is_where_browsers_look(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text == (static_dir() / "favicon.svg").read_text()


@pytest.mark.parametrize("path", ["/static/index.py", "/static/..%2F__init__.py",
                                  "/static/../web/__init__.py", "/static/"])
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_it_works_offline() -> None:
    """No script, style, font or image from another host: every URL is the server's own
    (the SVG namespace is a name, never fetched)."""
    for path in static_dir().iterdir():
        urls = re.findall(r"https?://[^\s\"')]+", path.read_text())
        assert set(urls) <= {"http://www.w3.org/2000/svg"}, path.name


def test_the_api_docs_work_offline(client: TestClient) -> None:
    """The dashboard links to /docs: its script, style and icon come from the server too,
    and no Content-Security-Policy stops its inline script."""
    response = client.get("/docs")
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    html = response.text
    assert not re.findall(r"https?://|//[a-z]", html), html
    files = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
    assert files and all(url.startswith("/") for url in files), files
    for url in files:
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.content, url
    assert "url: '/openapi.json'" in html and client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc would fetch its logo elsewhere
