"""``python -m audiomuse_api``: serve the Subsonic front with uvicorn (``make run`` starts it)."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from audiomuse.config import get_settings
from audiomuse_api.app import create_app


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.sonic_port)
    parser.add_argument("--songs", choices=["upstream", "catalog"], default=settings.sonic_songs,
                        help="song objects from the server's getSong (default) or from AudioMuse's catalog")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not settings.media_server_url or settings.media_server_type not in ("subsonic", "navidrome"):
        logging.getLogger("audiomuse.api").warning(
            "MEDIA_SERVER_TYPE is %s: the Subsonic front has no server to front and answers every call with "
            "an error (set MEDIA_SERVER_TYPE=subsonic and MEDIA_SERVER_URL)", settings.media_server_type)
    # access_log off: Subsonic clients put their credentials in the query string
    uvicorn.run(create_app(settings, songs=args.songs), host=args.host, port=args.port, access_log=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
