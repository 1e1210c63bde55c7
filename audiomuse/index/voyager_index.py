"""A Voyager (HNSW) index over track embeddings, with the track ids packed beside it.

Cosine space: distance = 1 - cosine similarity. One self-contained blob holds ids and index, so
what is stored in PostgreSQL and cached on disk can never disagree about which id is which.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import voyager

MAGIC = b"AMVX1"
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_QUERY_EF = 100


class SimilarityIndex:
    def __init__(self, index: voyager.Index, track_ids: list[str]):
        self.index = index
        self.track_ids = track_ids
        self._position = {tid: i for i, tid in enumerate(track_ids)}

    def __len__(self) -> int:
        return len(self.track_ids)

    @classmethod
    def build(
        cls,
        track_ids: list[str],
        vectors: np.ndarray,
        *,
        M: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        seed: int = 1,
    ) -> SimilarityIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(track_ids) != len(vectors):
            raise ValueError("one vector per track id")
        index = voyager.Index(
            voyager.Space.Cosine, num_dimensions=vectors.shape[1] if len(vectors) else 200,
            M=M, ef_construction=ef_construction, random_seed=seed, max_elements=max(1, len(vectors)),
        )
        if len(vectors):
            index.add_items(vectors, ids=np.arange(len(vectors), dtype=np.uint64))
        return cls(index, list(track_ids))

    def vector(self, track_id: str) -> np.ndarray:
        return np.asarray(self.index.get_vector(self._position[track_id]), dtype=np.float32)

    def __contains__(self, track_id: str) -> bool:
        return track_id in self._position

    def query(self, vector: np.ndarray, k: int, query_ef: int = DEFAULT_QUERY_EF) -> list[tuple[str, float]]:
        """The ``k`` nearest tracks to ``vector`` as (track id, cosine distance), nearest first."""
        k = min(k, len(self))
        if k <= 0:
            return []
        ids, dists = self.index.query(
            np.asarray(vector, dtype=np.float32), k=k, query_ef=max(query_ef, k), num_threads=1
        )
        return [(self.track_ids[int(i)], float(d)) for i, d in zip(ids, dists)]

    def to_bytes(self) -> bytes:
        ids = json.dumps(self.track_ids).encode()
        return MAGIC + struct.pack("<Q", len(ids)) + ids + self.index.as_bytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SimilarityIndex:
        if not blob.startswith(MAGIC):
            raise ValueError("not an AudioMuse similarity index")
        (n,) = struct.unpack_from("<Q", blob, len(MAGIC))
        start = len(MAGIC) + 8
        track_ids = json.loads(blob[start : start + n])
        index = voyager.Index.load(io.BytesIO(blob[start + n :]))
        return cls(index, track_ids)
