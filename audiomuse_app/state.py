"""Process-wide handles shared by the pages: database, settings, the loaded similarity index."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from audiomuse.config import Settings, get_settings
from audiomuse.index import SimilarityIndex
from audiomuse.index.persist import load_index
from audiomuse.store import Database, database_urls
from audiomuse.store.analysis import track_metadata


class NotReady(Exception):
    """Something the page needs does not exist yet; the message says what to run."""


@st.cache_resource(show_spinner=False)
def database() -> Database:
    db = Database(database_urls(settings()).app)
    db.migrate()  # the app may start before any Dagster run
    return db


def settings() -> Settings:
    return get_settings()


@dataclass
class IndexedTracks:
    """The similarity index with the metadata (title, artist, ...) of the tracks it holds."""

    index: SimilarityIndex
    metadata: dict[str, dict]


@st.cache_resource(show_spinner="Loading the similarity index…", max_entries=1)
def _indexed_tracks_for(index_id: int, _index: SimilarityIndex, _db: Database) -> IndexedTracks:
    with _db.connection() as conn:
        return IndexedTracks(_index, track_metadata(conn))


def indexed_tracks() -> IndexedTracks:
    """The current index and track metadata; raises NotReady with advice when there is none."""
    db = database()
    index = load_index(db, settings().cache_dir)
    if index is None or len(index) == 0:
        raise NotReady(
            "No similarity index yet. Analyse some albums and materialise `similarity_index` "
            "in the Dagster UI (it rebuilds by itself after analysis runs)."
        )
    return _indexed_tracks_for(id(index), index, db)


def guard(fn):
    """Run a page body, turning a missing prerequisite or an unreachable database into a message."""
    try:
        fn()
    except NotReady as exc:
        st.info(str(exc))
    except ConnectionError as exc:
        st.error(f"The database is not reachable: {exc}")
