"""PostgreSQL store: server (embedded or external), migrations, and the queries the features need."""

from audiomuse.store.db import Database, connect
from audiomuse.store.server import database_urls, stop_embedded_server

__all__ = ["Database", "connect", "database_urls", "stop_embedded_server"]
