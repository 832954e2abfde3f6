"""Failure evidence through the API: agents upload an attempt's files under its lease,
whoever may see the job reads them with their own types and the untrusted-content headers."""

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.artifacts import DROPS_LISTED
from qgjob.settings import ServerSettings
from tests.api.test_agent_protocol import running_job

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def upload(client: TestClient, agent: str, job_id: str, lease: str, name: str,
           content: bytes, attempt: int = 1, test: str | None = None) -> object:
    params = {"lease_id": lease, "attempt": attempt, **({"test": test} if test else {})}
    return client.put(f"/agents/{agent}/jobs/{job_id}/artifacts/{name}", params=params,
                      content=content, headers={"Content-Type": "application/octet-stream"})


def test_uploaded_evidence_is_listed_and_served_with_its_type(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    for name, content in [("failed.png", PNG), ("video.webm", b"webm"), ("trace.zip", b"PK")]:
        answer = upload(client, agent, job_id, lease, name, content, test="login > fails")
        assert answer.status_code == 204, answer.text  # type: ignore[attr-defined]
    listed = client.get(f"/jobs/{job_id}/artifacts").json()
    [attempt] = listed["attempts"]
    assert [(f["name"], f["kind"], f["test"]) for f in attempt["files"]] == [
        ("failed.png", "screenshot", "login > fails"), ("video.webm", "video", "login > fails"),
        ("trace.zip", "trace", "login > fails")]
    assert listed["attempt_max_bytes"] == 50 * 1024 * 1024 and listed["retention_days"] == 14
    expected = {"failed.png": ("image/png", "inline"), "video.webm": ("video/webm", "inline"),
                "trace.zip": ("application/zip", "attachment")}
    for file in attempt["files"]:
        served = client.get(file["url"])
        media_type, disposition = expected[file["name"]]
        assert served.status_code == 200 and served.headers["content-type"] == media_type
        assert served.headers["content-disposition"].startswith(disposition)
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
    assert client.get(f"/jobs/{job_id}/artifacts/1/failed.png").content == PNG
    missing = client.get(f"/jobs/{job_id}/artifacts/1/other.png")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_artifact")


@pytest.mark.parametrize(("name", "status", "code"), [
    ("..%2F..%2Fescape.png", 404, None),  # a slash never reaches the route
    ("..escape.png", 400, "bad_artifact_name"),
    ("%2Emanifest.json", 400, "bad_artifact_name"),
    ("shot%20one.png", 400, "bad_artifact_name"),
    ("page.html", 415, "artifact_type"),
    ("drawing.svg", 415, "artifact_type"),
])
def test_hostile_names_and_types_are_refused(client: TestClient, name: str, status: int,
                                             code: str | None) -> None:
    agent, job_id, lease = running_job(client)
    answer = upload(client, agent, job_id, lease, name, b"<script>alert(1)</script>")
    assert answer.status_code == status  # type: ignore[attr-defined]
    if code:
        assert answer.json()["code"] == code  # type: ignore[attr-defined]
    assert client.get(f"/jobs/{job_id}/artifacts").json()["attempts"] == []


def test_uploads_need_the_running_attempts_lease(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    wrong_attempt = upload(client, agent, job_id, lease, "a.png", PNG, attempt=2)
    assert (wrong_attempt.status_code, wrong_attempt.json()["code"]) == (  # type: ignore
        409, "lease_lost")
    client.post(f"/jobs/{job_id}/cancel")
    client.post(f"/agents/{agent}/jobs/{job_id}/report",
                json={"lease_id": lease, "attempt": 1, "outcome": "cancelled"})
    late = upload(client, agent, job_id, lease, "a.png", PNG)
    assert late.status_code == 409  # type: ignore[attr-defined]


def test_over_the_cap_what_fits_is_kept_and_the_rest_listed(settings: ServerSettings,
                                                           tmp_path: Path) -> None:
    small = replace(settings, artifact_attempt_max_bytes=100,
                    artifact_dir=str(tmp_path / "small"))
    with TestClient(create_app(small, maintenance=False)) as client:
        agent, job_id, lease = running_job(client)
        assert upload(client, agent, job_id, lease, "a.png", b"x" * 60).status_code == 204  # type: ignore
        over = upload(client, agent, job_id, lease, "video.webm", b"v" * 500)
        assert (over.status_code, over.json()["code"]) == (413, "artifact_over_cap")  # type: ignore
        [attempt] = client.get(f"/jobs/{job_id}/artifacts").json()["attempts"]
        assert [f["name"] for f in attempt["files"]] == ["a.png"]
        assert [(d["name"], d["size"]) for d in attempt["dropped"]] == [("video.webm", 500)]


@pytest.mark.parametrize("kept", [0, 60])  # over the whole cap, or over what is left
def test_over_the_cap_without_a_declared_length_is_the_same_drop(
        settings: ServerSettings, tmp_path: Path, kept: int) -> None:
    small = replace(settings, artifact_attempt_max_bytes=100,
                    artifact_dir=str(tmp_path / "small"))
    with TestClient(create_app(small, maintenance=False)) as client:
        agent, job_id, lease = running_job(client)
        if kept:
            assert upload(client, agent, job_id, lease, "a.png", b"x" * kept).status_code == 204  # type: ignore
        url = f"/agents/{agent}/jobs/{job_id}/artifacts/video.webm"
        params = {"lease_id": lease, "attempt": 1, "test": "login > fails"}
        declared = client.put(url, params=params, content=b"v" * 500)
        chunked = client.put(url.replace("video", "chunked"), params=params,
                             content=iter([b"v" * 250, b"v" * 250]))
        assert "content-length" not in chunked.request.headers
        assert declared.status_code == chunked.status_code == 413
        assert declared.json()["code"] == chunked.json()["code"] == "artifact_over_cap"
        [attempt] = client.get(f"/jobs/{job_id}/artifacts").json()["attempts"]
        assert [f["name"] for f in attempt["files"]] == (["a.png"] if kept else [])
        assert [(d["name"], d["reason"], d["test"]) for d in attempt["dropped"]] == [
            (name, f"over the attempt's cap ({100 - kept} bytes of room left)", "login > fails")
            for name in ["video.webm", "chunked.webm"]]
        assert attempt["dropped"][1]["size"] > 100 - kept  # what came before it was refused


def test_an_evidence_folder_gone_bad_is_a_503_not_a_traceback(settings: ServerSettings,
                                                            tmp_path: Path) -> None:
    with TestClient(create_app(settings, maintenance=False)) as client:
        agent, job_id, lease = running_job(client)
        (tmp_path / "artifacts").write_text("")  # since the start, a file in its place
        answer = upload(client, agent, job_id, lease, "a.png", PNG)
        assert (answer.status_code, answer.json()["code"]) == (  # type: ignore[attr-defined]
            503, "artifact_storage_unavailable")
        assert answer.headers["retry-after"] == "5"  # type: ignore[attr-defined]


def test_maintenance_sweeps_evidence_past_the_retention(settings: ServerSettings) -> None:
    now = [1_000_000.0]
    with TestClient(create_app(settings, maintenance=False, clock=lambda: now[0])) as client:
        agent, job_id, lease = running_job(client)
        upload(client, agent, job_id, lease, "a.png", PNG)
        service = client.app.state.service  # type: ignore[attr-defined]
        now[0] += 15 * 86_400
        client.portal.call(service.maintain_once)  # type: ignore[union-attr]
        assert client.get(f"/jobs/{job_id}/artifacts").json()["attempts"] == []


def test_a_video_is_served_in_ranges_so_the_player_can_seek(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    video = bytes(range(256)) * 40
    assert upload(client, agent, job_id, lease, "video.webm", video).status_code == 204  # type: ignore[attr-defined]
    url = f"/jobs/{job_id}/artifacts/1/video.webm"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    for asked, first, last in [("bytes=0-99", 0, 99), ("bytes=10000-", 10000, len(video) - 1),
                               ("bytes=-16", len(video) - 16, len(video) - 1),
                               ("bytes=100-999999", 100, len(video) - 1)]:
        part = client.get(url, headers={"Range": asked})
        assert part.status_code == 206, asked
        assert part.content == video[first:last + 1]
        assert part.headers["content-range"] == f"bytes {first}-{last}/{len(video)}"
        assert part.headers["content-type"] == "video/webm"
        assert part.headers["x-content-type-options"] == "nosniff"
    past = client.get(url, headers={"Range": f"bytes={len(video)}-"})
    assert (past.status_code, past.json()["code"]) == (416, "range_not_satisfiable")
    assert past.headers["content-range"] == f"bytes */{len(video)}"
    for ignored in ["bytes=0-1,5-9", "items=0-5", "bytes=abc", "bytes=9-3", "bytes=+5-",
                    "bytes=1_0-", "bytes=--5", "bytes=-+3", "bytes=-"]:
        answer = client.get(url, headers={"Range": ignored})
        assert answer.status_code == 200 and answer.content == video, ignored


def test_an_empty_file_is_sent_whole_whatever_range_is_asked(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    assert upload(client, agent, job_id, lease, "empty.txt", b"").status_code == 204  # type: ignore[attr-defined]
    url = f"/jobs/{job_id}/artifacts/1/empty.txt"
    # No Content-Range can name a part of nothing; a video element asks "bytes=0-" first.
    for asked in ["bytes=0-", "bytes=0-0", "bytes=-5", "bytes=-1", "bytes=-0", "bytes=9-"]:
        whole = client.get(url, headers={"Range": asked})
        assert (whole.status_code, whole.content) == (200, b""), asked
        assert "content-range" not in whole.headers


def test_request_heads_alone_cannot_grow_the_dropped_list(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    params = {"lease_id": lease, "attempt": 1, "test": "T" * 2000}
    for n in range(DROPS_LISTED + 5):  # a declared size and no body: refused before reading
        over = client.put(f"/agents/{agent}/jobs/{job_id}/artifacts/v{n:05d}.webm",
                          params=params, headers={"Content-Length": "999999999999"})
        assert (over.status_code, over.json()["code"]) == (413, "artifact_over_cap")
    listing = client.get(f"/jobs/{job_id}/artifacts")
    [attempt] = listing.json()["attempts"]
    assert len(attempt["dropped"]) == DROPS_LISTED and attempt["dropped_more"] == 5
    assert len(listing.content) < 30_000
