"""Interactive playlist tools over the similarity index: song path, alchemy, sonic fingerprint."""
