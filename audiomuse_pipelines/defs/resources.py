"""Resources: the app database and the media server, both configured from ``audiomuse.config``.

No secret is a resource field: URLs and credentials come from the environment at run time, so the
Dagster UI and run config never show them.
"""

from functools import cached_property

import dagster as dg

from audiomuse.config import Settings, get_settings
from audiomuse.providers import make_provider
from audiomuse.providers.base import MediaProvider
from audiomuse.store import Database, database_urls

_migrated: set[str] = set()


class DatabaseResource(dg.ConfigurableResource):
    """The AudioMuse PostgreSQL database (embedded unless ``DATABASE_URL`` is set)."""

    def settings(self) -> Settings:
        return get_settings()

    def database(self) -> Database:
        url = database_urls(self.settings()).app
        db = Database(url)
        if url not in _migrated:  # once per process
            db.migrate()
            _migrated.add(url)
        return db


class MediaServerResource(dg.ConfigurableResource):
    """The configured media server (``MEDIA_SERVER_TYPE``), or the local music folder."""

    def provider(self) -> MediaProvider:
        return make_provider(get_settings())


def default_resources() -> dict:
    return {"database": DatabaseResource(), "media_server": MediaServerResource()}
