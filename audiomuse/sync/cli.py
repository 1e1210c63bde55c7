"""``python -m audiomuse.sync``: prepare a hub or sync this collection from the command line."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import audiomuse.sync
from audiomuse.config import get_settings, redact_url
from audiomuse.store import Database, database_urls
from audiomuse.sync.collection import prepare_remote, remote_url, sync_collection
from audiomuse.sync.errors import SyncError, SyncNotConfigured


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m audiomuse.sync [--albums N] [--direction both] | --prepare-remote``."""
    parser = argparse.ArgumentParser(prog="python -m audiomuse.sync",
                                     description=audiomuse.sync.__doc__.splitlines()[0])
    parser.add_argument("--albums", type=int, default=0, help="newest N albums, 0 = all")
    parser.add_argument("--direction", choices=("push", "pull", "both"), default="both")
    parser.add_argument("--prepare-remote", action="store_true",
                        help="migrate the remote database (SYNC_DATABASE_URL) so it can serve as a hub")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    url = remote_url(settings)
    try:
        if args.prepare_remote:
            if not url:
                raise SyncNotConfigured("Set SYNC_DATABASE_URL first.")
            prepare_remote(url)
            print(f"{redact_url(url)} is ready for collection sync")
            return 0
        db = Database(database_urls(settings).app)
        db.migrate()
        report = sync_collection(db, url, settings, albums=args.albums, direction=args.direction,
                                 progress=print)
    except (SyncError, ConnectionError) as exc:
        print(f"error: {exc}")
        return 2
    print(report.summary())
    return 0
