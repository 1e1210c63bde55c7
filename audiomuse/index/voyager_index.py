"""A Voyager (HNSW) index over track embeddings, with the track ids and the similarity transform
packed beside it.

Cosine space: distance = 1 - cosine similarity. One self-contained blob holds ids, the transform
the vectors went through (:class:`~audiomuse.index.transform.LinearTransform`, or none) and the
index, so what is stored in PostgreSQL and cached on disk can never disagree about which id is
which, or about the space a query must be in. The store keeps the model's raw embeddings; the
index holds them transformed, and ``vector(track_id)`` gives a track in that space, so every tool
that takes its vectors from the index works in it without knowing there is a transform.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import voyager

from audiomuse.index.transform import LinearTransform

MAGIC_V1 = b"AMVX1"  # ids + index (no transform): still read
MAGIC = b"AMVX2"  # header (ids, transform) + transform arrays + index
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_QUERY_EF = 100


class SimilarityIndex:
    def __init__(self, index: voyager.Index, track_ids: list[str], transform: LinearTransform | None = None):
        self.index = index
        self.track_ids = track_ids
        self.transform = transform
        self._position = {tid: i for i, tid in enumerate(track_ids)}

    @property
    def transform_name(self) -> str:
        return self.transform.name if self.transform is not None else "none"

    def embed(self, raw: np.ndarray) -> np.ndarray:
        """A raw model embedding (or a stack of them) in the index's space, for querying."""
        raw = np.asarray(raw, dtype=np.float32)
        return raw if self.transform is None else self.transform.apply(raw)

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
        transform: LinearTransform | None = None,
    ) -> SimilarityIndex:
        """The index over raw ``vectors`` passed through ``transform`` (None: as they are)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if transform is not None and len(vectors):
            vectors = transform.apply(vectors)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(track_ids) != len(vectors):
            raise ValueError("one vector per track id")
        index = voyager.Index(
            voyager.Space.Cosine, num_dimensions=vectors.shape[1] if len(vectors) else 200,
            M=M, ef_construction=ef_construction, random_seed=seed, max_elements=max(1, len(vectors)),
        )
        if len(vectors):
            index.add_items(vectors, ids=np.arange(len(vectors), dtype=np.uint64))
        return cls(index, list(track_ids), transform)

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
        arrays = _transform_arrays(self.transform)
        header = json.dumps({"track_ids": self.track_ids, "transform": _transform_header(self.transform),
                             "arrays": [len(a) for a in arrays]}).encode()
        return MAGIC + struct.pack("<Q", len(header)) + header + b"".join(arrays) + self.index.as_bytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SimilarityIndex:
        if not blob.startswith((MAGIC, MAGIC_V1)):
            raise ValueError("not an AudioMuse similarity index")
        (n,) = struct.unpack_from("<Q", blob, len(MAGIC))
        start = len(MAGIC) + 8
        header = json.loads(blob[start : start + n])
        start += n
        if blob.startswith(MAGIC_V1):  # the header was the id list; no transform
            return cls(voyager.Index.load(io.BytesIO(blob[start:])), header)
        arrays = []
        for size in header["arrays"]:
            arrays.append(np.frombuffer(blob[start : start + size], dtype=np.float32))
            start += size
        transform = _transform_from(header["transform"], arrays)
        return cls(voyager.Index.load(io.BytesIO(blob[start:])), header["track_ids"], transform)


def _transform_header(transform: LinearTransform | None) -> dict | None:
    if transform is None:
        return None
    shape = None if transform.matrix is None else list(transform.matrix.shape)
    return {"name": transform.name, "matrix_shape": shape}


def _transform_arrays(transform: LinearTransform | None) -> list[bytes]:
    if transform is None:
        return []
    arrays = [transform.mean] + ([] if transform.matrix is None else [transform.matrix])
    return [np.ascontiguousarray(a, dtype=np.float32).tobytes() for a in arrays]


def _transform_from(header: dict | None, arrays: list[np.ndarray]) -> LinearTransform | None:
    if header is None:
        return None
    matrix = arrays[1].reshape(header["matrix_shape"]) if header["matrix_shape"] else None
    return LinearTransform(header["name"], arrays[0].copy(), None if matrix is None else matrix.copy())
