"""AudioMuse's Subsonic front (ASGI, Starlette): the OpenSubsonic sonicSimilarity extension for any
Subsonic server's clients. The answers themselves live in :mod:`audiomuse.sonic`."""

from audiomuse_api.app import create_app

__all__ = ["create_app"]
