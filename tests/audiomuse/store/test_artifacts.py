"""ArtifactCache: one decode per stored version, the last good version kept, a verified disk copy."""

import pytest

from audiomuse.store.artifacts import ArtifactCache, DiskCopy, save_artifact


class CountingDecode:
    def __init__(self):
        self.calls = 0

    def __call__(self, blob: bytes) -> str:
        self.calls += 1
        return blob.decode()


def _save(db, data: bytes | None, meta: dict | None = None) -> str:
    with db.connection() as conn:
        return save_artifact(conn, "thing", data, meta)


def _corrupt(db) -> None:
    """The stored payload no longer matches its checksum (which the freshness check still reports)."""
    with db.connection() as conn:
        conn.execute("UPDATE artifacts SET data = 'garbage' WHERE name = 'thing'")


def test_decodes_once_per_stored_version(db):
    decode = CountingDecode()
    cache = ArtifactCache("thing", decode)
    assert cache.get(db) is None
    sha = _save(db, b"one", {"n": 1})
    first = cache.get(db)
    assert (first.sha256, first.meta, first.value) == (sha, {"n": 1}, "one")
    with db.connection() as conn:
        assert cache.get(db, conn=conn) is first and decode.calls == 1
    _save(db, b"two")
    assert cache.get(db).value == "two" and decode.calls == 2
    _save(db, None)  # an artifact without a payload counts as none
    assert cache.get(db) is None


def test_a_corrupt_version_raises_and_the_last_good_one_stays(db):
    decode = CountingDecode()
    cache = ArtifactCache("thing", decode)
    _save(db, b"good")
    good = cache.get(db)
    _save(db, b"newer")
    _corrupt(db)
    with pytest.raises(ValueError, match="'thing' is corrupt"):
        cache.get(db)
    _save(db, b"good")  # the good version is back: no new decode
    assert cache.get(db) is good and decode.calls == 1


def test_disk_copy_by_checksum_spares_the_download_and_is_verified(db, tmp_path):
    disk = DiskCopy("things", ".bin")
    sha = _save(db, b"payload")
    assert ArtifactCache("thing", CountingDecode(), disk).get(db, tmp_path).value == "payload"
    copy = tmp_path / "things" / f"{sha}.bin"
    assert copy.read_bytes() == b"payload"
    _corrupt(db)  # a new process (a new cache) with the copy on disk does not read the payload
    assert ArtifactCache("thing", CountingDecode(), disk).get(db, tmp_path).value == "payload"
    copy.write_bytes(b"torn")  # a copy that fails its checksum is dropped, and the database asked
    with pytest.raises(ValueError, match="corrupt"):
        ArtifactCache("thing", CountingDecode(), disk).get(db, tmp_path)
    assert not copy.exists()
    new_sha = _save(db, b"rebuilt")
    assert ArtifactCache("thing", CountingDecode(), disk).get(db, tmp_path).sha256 == new_sha
    assert [p.name for p in (tmp_path / "things").iterdir()] == [f"{new_sha}.bin"]  # older copies removed
