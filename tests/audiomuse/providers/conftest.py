import os
import shutil
from pathlib import Path

import pytest

from tests.servers import supysonic

USER, PASSWORD = "alice", "wonder-land-42"
SMALL = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "sample-library-small"


@pytest.fixture(scope="session")
def subsonic_music(tmp_path_factory) -> Path:
    """Two albums of the real sample library (copied: supysonic must not see our playlists dir)."""
    if not (SMALL / "manifest.json").exists():
        pytest.skip(f"small sample library missing at {SMALL}: run `make samples-small`")
    dest = tmp_path_factory.mktemp("subsonic-music")
    for album in ["Kenta Cho/Gunroar", "Muldjord/Frets on Fire_ Muldjord"]:
        shutil.copytree(SMALL / album, dest / album)
    return dest


@pytest.fixture(scope="session")
def supysonic_url(subsonic_music, tmp_path_factory):
    with supysonic(subsonic_music, tmp_path_factory.mktemp("supysonic"), USER, PASSWORD) as url:
        yield url
