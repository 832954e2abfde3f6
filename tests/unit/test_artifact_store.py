"""The directory artifact store: the cap per attempt, the retention sweep, hostile names."""

import errno
import json
import os
from pathlib import Path

import pytest

from qgjob.artifacts import (
    DROP_TEST_MAX,
    DROPS_LISTED,
    FILES_KEPT,
    ArtifactRefused,
    DirectoryArtifactStore,
    DroppedArtifact,
    artifact_type,
)
from qgjob.settings import ServerSettings

DAY = 86_400.0


def store(tmp_path: Path, cap: int = 1000) -> DirectoryArtifactStore:
    return DirectoryArtifactStore(tmp_path / "evidence", cap)


def test_files_are_kept_per_attempt_with_a_manifest(tmp_path: Path) -> None:
    artifacts = store(tmp_path)
    artifacts.save("job-1", 1, "failed.png", b"png", test="login > fails", now=10.0)
    artifacts.save("job-1", 2, "trace.zip", b"zip", test=None, now=20.0)
    [first, second] = artifacts.attempts("job-1")
    assert [(f.name, f.media_type, f.kind, f.test) for f in first.files] == [
        ("failed.png", "image/png", "screenshot", "login > fails")]
    assert (second.attempt, second.files[0].kind) == (2, "trace")
    assert artifacts.read("job-1", 1, "failed.png") == (first.files[0], b"png")
    assert artifacts.read("job-1", 1, "other.png") is None
    manifest = json.loads((tmp_path / "evidence/job-1/1/.manifest.json").read_text())
    assert manifest["job_id"] == "job-1" and manifest["created_at"] == 10.0


def test_over_the_cap_a_file_is_dropped_and_the_reason_recorded(tmp_path: Path) -> None:
    artifacts = store(tmp_path, cap=100)
    artifacts.save("job-1", 1, "shot.png", b"x" * 60, test=None, now=0.0)
    with pytest.raises(ArtifactRefused) as refused:
        artifacts.save("job-1", 1, "video.webm", b"v" * 50, test="t", now=0.0)
    assert (refused.value.code, refused.value.status) == ("artifact_over_cap", 413)
    artifacts.save("job-1", 1, "trace.zip", b"z" * 40, test=None, now=0.0)  # still fits
    [attempt] = artifacts.attempts("job-1")
    assert [f.name for f in attempt.files] == ["shot.png", "trace.zip"]
    assert [(d.name, d.size, d.test) for d in attempt.dropped] == [("video.webm", 50, "t")]
    assert "cap of 100 bytes" in attempt.dropped[0].reason
    assert artifacts.room("job-1", 1) == 0
    assert not (tmp_path / "evidence/job-1/1/video.webm").exists()


def test_a_second_upload_of_a_name_replaces_the_first(tmp_path: Path) -> None:
    artifacts = store(tmp_path, cap=100)
    for _ in range(3):  # an agent that re-sends after a timeout spends no more room
        artifacts.save("job-1", 1, "shot.png", b"x" * 60, test=None, now=0.0)
    assert artifacts.room("job-1", 1) == 40


def test_the_sweep_removes_attempts_past_the_retention(tmp_path: Path) -> None:
    artifacts = store(tmp_path)
    artifacts.save("old", 1, "a.png", b"1", test=None, now=0 * DAY)
    artifacts.save("mixed", 1, "a.png", b"1", test=None, now=1 * DAY)
    artifacts.save("mixed", 2, "a.png", b"1", test=None, now=20 * DAY)
    assert artifacts.sweep(before=20 * DAY - 14 * DAY) == 2
    assert artifacts.attempts("old") == [] and not (tmp_path / "evidence/old").exists()
    assert [a.attempt for a in artifacts.attempts("mixed")] == [2]
    assert store(tmp_path / "nothing-yet").sweep(before=1e12) == 0


@pytest.mark.parametrize("name", [
    "../escape.png", "..png", ".manifest.json", "a/b.png", "a\\b.png", "x" * 101 + ".png",
    "", " shot.png", "shot.png\n", "%2e%2e.png", "ümlaut.png"])
def test_hostile_names_are_refused(tmp_path: Path, name: str) -> None:
    artifacts = store(tmp_path)
    with pytest.raises(ArtifactRefused) as refused:
        artifacts.save("job-1", 1, name, b"x", test=None, now=0.0)
    assert refused.value.code == "bad_artifact_name"
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("name", ["page.html", "image.svg", "run.sh", "noextension", "a.PNG.exe"])
def test_types_off_the_allow_list_are_refused(name: str) -> None:
    with pytest.raises(ArtifactRefused) as refused:
        artifact_type(name)
    assert (refused.value.code, refused.value.status) == ("artifact_type", 415)


@pytest.mark.parametrize(("job_id", "attempt"), [("../x", 1), ("a/b", 1), ("ok", 0)])
def test_job_ids_and_attempts_are_plain(tmp_path: Path, job_id: str, attempt: int) -> None:
    with pytest.raises(ArtifactRefused):
        store(tmp_path).save(job_id, attempt, "a.png", b"x", test=None, now=0.0)


@pytest.mark.parametrize(("changes", "message"), [
    ({"artifact_attempt_max_bytes": -1}, "QGJOB_ARTIFACT_ATTEMPT_MAX_BYTES"),
    ({"artifact_retention_days": 0}, "QGJOB_ARTIFACT_RETENTION_DAYS"),
])
def test_evidence_settings_are_checked(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerSettings(**changes)


def test_the_artifact_dir_must_not_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="QGJOB_ARTIFACT_DIR"):
        ServerSettings(artifact_dir=str(tmp_path / "file"))
    assert ServerSettings(artifact_dir=str(tmp_path)).resolved_artifact_dir == tmp_path


@pytest.mark.parametrize(("inside", "message"), [
    ("file/evidence", "can't be created: .*file is not a directory"),
    ("/proc/qgjob-evidence", "can't be created in /proc"),  # permission bits say root may
])
def test_an_artifact_dir_that_cannot_be_made_is_refused_at_start(
        tmp_path: Path, inside: str, message: str) -> None:
    if inside.startswith("/proc") and not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=f"QGJOB_ARTIFACT_DIR=.*{message}"):
        ServerSettings(artifact_dir=str(tmp_path / inside))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # the check leaves nothing


@pytest.mark.parametrize(("error", "status", "code"), [
    (errno.ENOSPC, 507, "artifact_storage_full"),
    (errno.EIO, 503, "artifact_storage_unavailable"),
])
def test_a_write_the_folder_fails_is_refused_as_the_servers_trouble(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, status: int,
        code: str) -> None:
    artifacts = store(tmp_path)
    artifacts.save("job-1", 1, "kept.png", b"png", test=None, now=0.0)
    real_write = Path.write_bytes

    def failing(path: Path, content: bytes) -> int:
        real_write(path, content[:1])  # half written, then the disk fails
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(ArtifactRefused) as refused:
        artifacts.save("job-1", 1, "shot.png", b"png", test=None, now=0.0)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert os.strerror(error) in str(refused.value)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "evidence/job-1/1").iterdir()) == [
        ".manifest.json", "kept.png"]  # no half-written file left


def test_drops_past_the_listed_ones_are_only_counted(tmp_path: Path) -> None:
    artifacts = store(tmp_path, cap=0)
    for n in range(DROPS_LISTED + 10):  # costs the agent nothing but a request head
        artifacts.drop("job-1", 1, f"v{n}.webm", 10**12, "over the cap", test="T" * 2000,
                       now=0.0)
    artifacts.drop("job-1", 1, "v0.webm", 10**12, "over the cap", test=None, now=0.0)
    [attempt] = artifacts.attempts("job-1")
    assert len(attempt.dropped) == DROPS_LISTED and attempt.dropped_more == 10
    assert {len(d.test or "") for d in attempt.dropped[:-1]} == {DROP_TEST_MAX}
    assert attempt.dropped[0].test == "T" * (DROP_TEST_MAX - 1) + "…"
    assert attempt.dropped[-1] == DroppedArtifact("v0.webm", 10**12, "over the cap")
    manifest = tmp_path / "evidence/job-1/1/.manifest.json"
    assert manifest.stat().st_size < 20_000


def test_a_manifest_listing_more_drops_is_read_as_bounded(tmp_path: Path) -> None:
    artifacts = store(tmp_path)
    artifacts.save("job-1", 1, "a.png", b"x", test=None, now=0.0)
    manifest = tmp_path / "evidence/job-1/1/.manifest.json"
    written = json.loads(manifest.read_text())
    written["dropped"] = [{"name": f"v{n}.webm", "size": 1, "reason": "r", "test": None}
                          for n in range(DROPS_LISTED + 7)]
    manifest.write_text(json.dumps(written))
    [attempt] = artifacts.attempts("job-1")
    assert len(attempt.dropped) == DROPS_LISTED and attempt.dropped_more == 7


def test_an_attempt_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    artifacts = DirectoryArtifactStore(tmp_path / "evidence", 1000, attempt_max_files=2)
    for name in ["a.txt", "b.txt"]:
        artifacts.save("job-1", 1, name, b"", test="T" * 2000, now=0.0)
    with pytest.raises(ArtifactRefused) as refused:  # empty, yet a manifest line more
        artifacts.save("job-1", 1, "c.txt", b"", test=None, now=0.0)
    assert (refused.value.code, refused.value.status) == ("artifact_over_cap", 413)
    artifacts.save("job-1", 1, "a.txt", b"again", test=None, now=0.0)  # replaces, still fits
    [attempt] = artifacts.attempts("job-1")
    assert [(f.name, f.size) for f in attempt.files] == [("b.txt", 0), ("a.txt", 5)]
    assert [(d.name, d.reason) for d in attempt.dropped] == [
        ("c.txt", "over the attempt's cap of 2 files")]
    assert store(tmp_path).attempt_max_files == FILES_KEPT == 1000
