"""What one collection sync did, album by album (album ids stay on this machine)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Direction = Literal["push", "pull", "both"]


@dataclass
class AlbumSync:
    album_id: str  # local only: reports stay on this machine
    name: str
    artist: str
    pushed: int = 0
    pulled: int = 0
    skipped: int = 0
    incompatible: int = 0  # rows of another model identity (here or on the remote): not shared


@dataclass
class SyncReport:
    direction: Direction
    remote: str  # masked URL
    model_id: str
    albums: list[AlbumSync] = field(default_factory=list)

    @property
    def pushed(self) -> int:
        return sum(a.pushed for a in self.albums)

    @property
    def pulled(self) -> int:
        return sum(a.pulled for a in self.albums)

    @property
    def skipped(self) -> int:
        return sum(a.skipped for a in self.albums)

    @property
    def incompatible(self) -> int:
        return sum(a.incompatible for a in self.albums)

    def summary(self) -> dict:
        return {"albums": len(self.albums), "pushed": self.pushed, "pulled": self.pulled,
                "skipped": self.skipped, "incompatible": self.incompatible}

    def rows(self) -> list[dict]:
        return [asdict(a) for a in self.albums]
