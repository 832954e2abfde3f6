"""HEAD answers as GET would, without a body: load balancers and uptime checks ask `HEAD
/health`, and `curl -I` any page. Every HEAD was a 405."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_access_settings import JOB, app_with, bearer, issue


def test_head_answers_as_get_without_the_body(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, _):
        client.post("/jobs", json=JOB)
        for path in ("/health", "/jobs", "/", "/metrics", "/queue"):
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200, path
            assert head.content == b"" and got.content, path
            assert head.headers["content-type"] == got.headers["content-type"], path
        assert client.head("/jobs/nope").status_code == 404
        assert client.head("/jobs?stat=failed").status_code == 422
        assert client.head("/no-such-page").status_code == 404


def test_head_needs_what_get_needs(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, store):
        _, text = issue(store)
        assert client.head("/jobs").status_code == 401
        assert client.head("/jobs", headers=bearer(text)).status_code == 200
        assert client.head("/health").status_code == 200


def test_head_of_the_live_event_stream_answers_with_its_head(tmp_path: Path) -> None:
    """A stream's head is all HEAD asks for: the answer does not wait for the stream."""
    with app_with(tmp_path) as (client, _):
        head = client.head("/events")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")


def test_a_head_of_the_event_stream_is_not_a_listener(tmp_path: Path) -> None:
    """The change feed reads the store every second while anyone listens: a `HEAD /events`
    took its head and left, yet counted as a listener until the garbage collector ran."""
    with app_with(tmp_path) as (client, _):
        for _ in range(3):
            assert client.head("/events").status_code == 200
        feed = client.app.state.events  # type: ignore[attr-defined]
        assert feed.listeners == 0 and not feed.ticking
