"""Resources: the database, the media server, the analysis model, the LLM and the collection sync.

Each resource carries its configuration as fields, so the Dagster UI's resource page shows what a
run used. ``resources_from_settings`` fills them from ``audiomuse.config.Settings`` when the code
location loads: plain values for ordinary settings and ``dg.EnvVar(NAME)`` for a secret set in the
environment (the UI shows the variable's name, never its value). A field left unset takes the
settings' value, read at run time (not cached); that is also how a secret kept in the config file
is read. Tests build the resources directly, with no environment variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import dagster as dg

from audiomuse.config import Settings, get_settings, set_in_environment
from audiomuse.llm import LlmClient, make_llm
from audiomuse.providers import make_provider
from audiomuse.providers.base import MediaProvider
from audiomuse.store import Database, database_urls

_migrated: set[str] = set()


def _settings_with(fields: dict[str, Any]) -> Settings:
    """Settings read now (environment, config file, defaults) with every field that is set in their place."""
    return Settings(**{name: value for name, value in fields.items() if value is not None})


class DatabaseResource(dg.ConfigurableResource):
    """The AudioMuse PostgreSQL database (embedded unless a URL is given)."""

    url: str | None = None
    """Any PostgreSQL URL (DATABASE_URL, a secret); unset = the settings', else the embedded server."""
    data_dir: str | None = None
    """AUDIOMUSE_DATA_DIR: where the embedded server keeps its data."""

    def database(self) -> Database:
        settings = _settings_with({"database_url": self.url, "data_dir": _path(self.data_dir)})
        url = database_urls(settings).app
        db = Database(url)
        if url not in _migrated:  # once per process
            db.migrate()
            _migrated.add(url)
        return db


class MediaServerResource(dg.ConfigurableResource):
    """The media server AudioMuse reads music from and publishes playlists to, or a local folder."""

    type: str | None = None
    """MEDIA_SERVER_TYPE: local, subsonic (= navidrome), jellyfin, lyrion, emby, plex or mpd."""
    url: str | None = None
    """MEDIA_SERVER_URL."""
    user: str | None = None
    """MEDIA_SERVER_USER."""
    password: str | None = None
    """MEDIA_SERVER_PASSWORD (a secret: give it as an EnvVar)."""
    token: str | None = None
    """MEDIA_SERVER_TOKEN, a Jellyfin or Emby API key or a Plex token (a secret: give it as an EnvVar)."""
    user_passwords: str | None = None
    """MEDIA_SERVER_USER_PASSWORDS, other users' passwords ``ann:pw1,bob:pw2`` (Subsonic: playlists
    published as their owner; a secret: give it as an EnvVar)."""
    music_dir: str | None = None
    """MUSIC_DIR, the local provider's folder."""
    plex_library: str | None = None
    """PLEX_LIBRARY, the Plex music library's title (default: the first music library)."""
    plex_user_tokens: str | None = None
    """PLEX_USER_TOKENS, other Plex accounts' tokens ``ann:tok1`` (a secret: give it as an EnvVar)."""
    mpd_music_dir: str | None = None
    """MPD_MUSIC_DIR, the local path of MPD's music_directory."""
    timeout_seconds: float | None = None
    """HTTP_TIMEOUT per request."""
    retries: int | None = None
    """HTTP_RETRIES, with backoff."""

    def settings(self) -> Settings:
        return _settings_with({
            "media_server_type": self.type, "media_server_url": self.url, "media_server_user": self.user,
            "media_server_password": self.password, "media_server_token": self.token,
            "media_server_user_passwords": self.user_passwords,
            "music_dir": _path(self.music_dir), "http_timeout": self.timeout_seconds, "http_retries": self.retries,
            "plex_library": self.plex_library, "plex_user_tokens": self.plex_user_tokens,
            "mpd_music_dir": _path(self.mpd_music_dir),
        })

    def provider(self) -> MediaProvider:
        return make_provider(self.settings())


class AnalysisResource(dg.ConfigurableResource):
    """Which albums are analysed and how: the MusiCNN model's threads and patch hop."""

    recent_albums: int | None = None
    """NUM_RECENT_ALBUMS: analyse only the newest N albums; 0 = all."""
    threads: int | None = None
    """ANALYSIS_THREADS: onnxruntime threads per run."""
    patch_hop: int | None = None
    """PATCH_HOP: MusiCNN patch hop in frames (187 = non-overlapping)."""
    precision: str | None = None
    """ANALYSIS_PRECISION: int8 (default, the quantised model) or fp32; each precision's embeddings
    are stored under their own model identity and never mixed."""

    def settings(self) -> Settings:
        return _settings_with({"num_recent_albums": self.recent_albums, "analysis_threads": self.threads,
                               "patch_hop": self.patch_hop, "analysis_precision": self.precision})

    def album_limit(self) -> int:
        return self.settings().num_recent_albums

    def analyser(self):
        settings = self.settings()
        return _analyser(settings.analysis_threads, settings.patch_hop, settings.analysis_precision)


@lru_cache(maxsize=2)
def _analyser(threads: int, patch_hop: int, precision: str):
    """One model session per process, reused by every album the process analyses.

    Imported here, not at module level: the webserver and daemon load these definitions too and
    need neither onnxruntime nor librosa.
    """
    from audiomuse.analysis.track import TrackAnalyser

    return TrackAnalyser(threads=threads, patch_hop=patch_hop, precision=precision)


class IndexResource(dg.ConfigurableResource):
    """How the similarity index is built."""

    transform: str = "none"
    """SIMILARITY_TRANSFORM: none, centred or standardised, fitted on the library at each build."""


class LLMResource(dg.ConfigurableResource):
    """The LLM that names playlists (``AI_MODEL_PROVIDER``; ``none`` = automatic names only)."""

    provider: str | None = None
    """AI_MODEL_PROVIDER: ollama, openai, gemini, mistral or none."""
    url: str | None = None
    """AI_MODEL_URL; unset = the provider's default endpoint."""
    model: str | None = None
    """AI_MODEL_NAME; unset = the provider's default model."""
    api_key: str | None = None
    """AI_API_KEY (a secret: give it as an EnvVar)."""
    timeout_seconds: float | None = None
    """AI_TIMEOUT per request."""

    def client(self) -> LlmClient | None:
        """The configured client, or ``None`` when no LLM is configured (raises ``LlmError`` if misconfigured)."""
        return make_llm(_settings_with({
            "ai_model_provider": self.provider, "ai_model_url": self.url, "ai_model_name": self.model,
            "ai_api_key": self.api_key, "ai_timeout": self.timeout_seconds,
        }))


class SyncRemoteResource(dg.ConfigurableResource):
    """The opt-in collection sync's remote database and whether its policy is accepted here."""

    url: str | None = None
    """SYNC_DATABASE_URL (a secret: give it as an EnvVar); unset = no sync."""
    accept_policy: bool | None = None
    """SYNC_ACCEPT_POLICY; the policy can also be accepted on the explorer's Collection sync page."""

    def settings(self, patch_hop: int, precision: str | None = None) -> Settings:
        return _settings_with({"sync_database_url": self.url, "sync_accept_policy": self.accept_policy,
                               "patch_hop": patch_hop, "analysis_precision": precision})


class RecipesResource(dg.ConfigurableResource):
    """Living playlists: who gets a daily mix, when, and the per-artist cap of every recipe."""

    daily_mix_users: list[str] | None = None
    """DAILY_MIX_USERS (comma-separated); unset = the configured media-server user."""
    daily_mix_hour: int | None = None
    """DAILY_MIX_HOUR: when the daily mixes are refreshed (0-23, the daemon's time zone)."""
    max_songs_per_artist: int | None = None
    """MAX_SONGS_PER_ARTIST in every recipe's playlist."""

    def settings(self) -> Settings:
        users = ",".join(self.daily_mix_users) if self.daily_mix_users is not None else None
        return _settings_with({"daily_mix_users": users, "daily_mix_hour": self.daily_mix_hour,
                               "max_songs_per_artist": self.max_songs_per_artist})

    def recipe(self, db: Database, partition_key: str):
        """The recipe of a ``recipe_playlists`` partition (a clear failure when it was deleted)."""
        from audiomuse.recipes.store import get_recipe

        with db.connection() as conn:
            recipe = get_recipe(conn, int(partition_key)) if partition_key.isdigit() else None
        if recipe is None:
            raise dg.Failure(description=f"recipe {partition_key} no longer exists", allow_retries=False)
        return recipe

    def refresh(self, db: Database, provider: MediaProvider, recipe):
        from audiomuse.recipes.refresh import refresh_recipe

        return refresh_recipe(db, provider, recipe, max_per_artist=self.settings().max_songs_per_artist)

    def ensure_daily_mixes(self, db: Database, provider: MediaProvider) -> list[str]:
        from audiomuse.recipes.refresh import ensure_daily_mixes

        settings = self.settings()
        return ensure_daily_mixes(db, provider, settings.daily_mix_listeners, settings.daily_mix_hour)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _secret(env_name: str) -> dg.EnvVar | None:
    """An EnvVar where the secret is in the environment; otherwise unset (read from the config file)."""
    return dg.EnvVar(env_name) if set_in_environment(env_name) else None


def resources_from_settings(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Every resource, with the values these settings hold (secrets by environment variable name)."""
    return {
        "database": DatabaseResource(url=_secret("DATABASE_URL"), data_dir=str(settings.data_dir)),
        "media_server": MediaServerResource(
            type=settings.media_server_type, url=settings.media_server_url, user=settings.media_server_user,
            password=_secret("MEDIA_SERVER_PASSWORD"), token=_secret("MEDIA_SERVER_TOKEN"),
            user_passwords=_secret("MEDIA_SERVER_USER_PASSWORDS"), plex_library=settings.plex_library,
            plex_user_tokens=_secret("PLEX_USER_TOKENS"),
            mpd_music_dir=str(settings.mpd_music_dir) if settings.mpd_music_dir else None,
            music_dir=str(settings.music_dir or settings.sample_library_small),
            timeout_seconds=settings.http_timeout, retries=settings.http_retries,
        ),
        "analysis": AnalysisResource(recent_albums=settings.num_recent_albums, threads=settings.analysis_threads,
                                     patch_hop=settings.patch_hop, precision=settings.analysis_precision),
        "index": IndexResource(transform=settings.similarity_transform),
        "llm": LLMResource(provider=settings.ai_model_provider, url=settings.ai_model_url,
                           model=settings.ai_model_name, api_key=_secret("AI_API_KEY"),
                           timeout_seconds=settings.ai_timeout),
        "recipes": RecipesResource(daily_mix_users=[u for u in settings.daily_mix_listeners if u] or None,
                                   daily_mix_hour=settings.daily_mix_hour,
                                   max_songs_per_artist=settings.max_songs_per_artist),
        "sync_remote": SyncRemoteResource(url=_secret("SYNC_DATABASE_URL"),
                                                  accept_policy=settings.sync_accept_policy),
    }


@dg.definitions
def resources() -> dg.Definitions:
    """The code location's resources, from the settings of the process that loads it."""
    return dg.Definitions(resources=resources_from_settings(get_settings()))
