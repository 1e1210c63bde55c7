"""Nearest-neighbour search over MusiCNN embeddings (Voyager, angular)."""

from audiomuse.index.voyager_index import SimilarityIndex

__all__ = ["SimilarityIndex"]
