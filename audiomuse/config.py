"""One settings object, read from environment variables and an optional TOML file.

Precedence: explicit arguments > environment > TOML file (``AUDIOMUSE_CONFIG``, else
``<data dir>/audiomuse.toml``) > defaults. Defaults are the reference implementation's.
Secrets are ``SecretStr``: masked in repr, str, logs and Dagster metadata.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from audiomuse.clustering.params import ALGORITHMS, SETTINGS_TO_PARAMS, setting_default

ProviderKind = Literal["local", "subsonic", "navidrome", "jellyfin", "lyrion", "emby", "plex", "mpd"]
LlmProvider = Literal["none", "ollama", "openai", "gemini", "mistral"]


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("audiomuse"))


def config_file_path() -> Path:
    explicit = os.environ.get("AUDIOMUSE_CONFIG")
    if explicit:
        return Path(explicit)
    data_dir = os.environ.get("AUDIOMUSE_DATA_DIR")
    return (Path(data_dir) if data_dir else default_data_dir()) / "audiomuse.toml"


def _clustering_setting(name: str, **constraints: Any) -> Any:
    """A clustering field: its default is the ClusteringParams one it maps to (written there once);
    the mapping is recorded in the JSON schema so tests can find every clustering field."""
    return Field(default=setting_default(name), json_schema_extra={"clustering_param": SETTINGS_TO_PARAMS[name]},
                 **constraints)


class Settings(BaseSettings):
    """Everything a deployment can tune. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a validation error must not echo a secret back
    )

    # Storage
    database_url: SecretStr | None = Field(
        default=None, description="Any PostgreSQL URL; unset = embedded server under the data dir."
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias="AUDIOMUSE_DATA_DIR",
        description="Where the embedded database, index cache and downloads live.",
    )

    # Media server
    media_server_type: ProviderKind = "local"
    media_server_url: str | None = None
    media_server_user: str | None = None
    media_server_password: SecretStr | None = None
    media_server_user_passwords: SecretStr | None = Field(
        default=None,
        description="Other media-server users' passwords, 'ann:pw1,bob:pw2' (Subsonic: a recipe owned by a user "
                    "is published as that user, which the Subsonic API allows only with that user's password).",
    )
    media_server_token: SecretStr | None = Field(
        default=None, description="Jellyfin or Emby API key, Plex token."
    )
    # Plex
    plex_library: str | None = Field(
        default=None, description="Plex: the music library section's title (default: the first music section).",
    )
    plex_user_tokens: SecretStr | None = Field(
        default=None, description="Plex: other accounts' own tokens, 'ann:tok1,bob:tok2', for playlists owned by them "
                                  "(a Plex playlist belongs to the token's account).",
    )
    # MPD
    mpd_music_dir: Path | None = Field(
        default=None, description="MPD: the local path of MPD's music_directory (tracks are copied from it; MPD "
                                  "serves no files).",
    )
    music_dir: Path | None = Field(
        default=None, description="Folder of music for the local provider (default: sample library)."
    )
    http_timeout: float = 30.0
    http_retries: int = 3
    sonic_port: int = Field(
        default=4534, validation_alias="AUDIOMUSE_SONIC_PORT",
        description="Port of the Subsonic front (sonicSimilarity extension) started by `make run`.",
    )
    sonic_radio: bool = Field(
        default=True, validation_alias="SONIC_RADIO",
        description="The Subsonic front answers getSimilarSongs/getSimilarSongs2 from the sound (false: the server's own).",
    )
    sonic_songs: Literal["upstream", "catalog"] = Field(
        default="upstream", validation_alias="AUDIOMUSE_SONIC_SONGS",
        description="Song objects in sonic answers: the server's own (getSong) or built from the catalog.",
    )

    # Processes started by `make run` (the launcher) and the explorer's pipeline page
    dagster_url: str = Field(
        default="http://127.0.0.1:3000", validation_alias="AUDIOMUSE_DAGSTER_URL",
        description="Dagster webserver the explorer's pipeline page talks to (GraphQL).",
    )
    dagster_pg_url: SecretStr | None = Field(
        default=None, validation_alias="DAGSTER_PG_URL",
        description="Dagster's own storage; unset = the embedded server's `dagster` database (the launcher sets it).",
    )
    dagster_port: int = Field(default=3000, validation_alias="AUDIOMUSE_DAGSTER_PORT")
    app_port: int = Field(default=8501, validation_alias="AUDIOMUSE_APP_PORT")
    host: str = Field(default="127.0.0.1", validation_alias="AUDIOMUSE_HOST",
                      description="Address the UIs and the Subsonic front listen on.")
    download_cache: Path = Field(
        default=Path("~/.cache/audiomuse").expanduser(), validation_alias="AUDIOMUSE_CACHE",
        description="Downloads and the built sample library (the Makefile's CACHE).",
    )

    # LLM (chat, playlist names)
    ai_model_provider: LlmProvider = "none"
    ai_model_url: str | None = None
    ai_model_name: str | None = None
    ai_api_key: SecretStr | None = None
    ai_timeout: float = 60.0

    # Analysis
    num_recent_albums: int = Field(default=0, ge=0, description="0 = all albums")
    patch_hop: int = Field(default=187, ge=1, le=187, description="MusiCNN patch hop in frames")
    analysis_threads: int = Field(default=1, ge=1, description="onnxruntime threads per worker")
    analysis_precision: Literal["fp32", "int8"] = Field(
        default="int8", description="MusiCNN model: int8 (1.5-1.8x less model CPU) or fp32; their embeddings are never mixed",
    )
    analysis_workers: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1), ge=1,
        description="concurrent album analyses (make run writes them into DAGSTER_HOME's dagster.yaml; "
        "Docker: docker/dagster.yaml); threads x workers = cores",
    )
    similarity_transform: Literal["none", "centred", "standardised"] = Field(
        default="none", description="fitted on the library when the index is built, stored with it (no re-analysis)",
    )

    # Clustering: each default and the parameter each field sets are ClusteringParams'
    # (audiomuse.clustering.params); the field names are the documented environment variables.
    cluster_algorithm: Literal[ALGORITHMS] = _clustering_setting("cluster_algorithm")
    clustering_runs: int = _clustering_setting("clustering_runs", ge=1)
    num_clusters_min: int = _clustering_setting("num_clusters_min", ge=2)
    num_clusters_max: int = _clustering_setting("num_clusters_max", ge=2)
    enable_clustering_embeddings: bool = _clustering_setting("enable_clustering_embeddings")
    max_songs_per_cluster: int = _clustering_setting("max_songs_per_cluster", ge=0)
    min_songs_per_playlist: int = _clustering_setting("min_songs_per_playlist", ge=1)
    top_playlist_number: int = _clustering_setting("top_playlist_number", ge=1)
    score_weight_diversity: float = _clustering_setting("score_weight_diversity")
    score_weight_purity: float = _clustering_setting("score_weight_purity")
    score_weight_silhouette: float = _clustering_setting("score_weight_silhouette")
    score_weight_davies_bouldin: float = _clustering_setting("score_weight_davies_bouldin")
    score_weight_calinski_harabasz: float = _clustering_setting("score_weight_calinski_harabasz")
    score_weight_other_feature_diversity: float = _clustering_setting("score_weight_other_feature_diversity")
    score_weight_other_feature_purity: float = _clustering_setting("score_weight_other_feature_purity")
    sampling_percentage_change_per_run: float = _clustering_setting("sampling_percentage_change_per_run", ge=0, le=1)
    max_songs_per_artist: int = _clustering_setting("max_songs_per_artist", ge=1)

    # Living playlists
    daily_mix_users: str | None = Field(
        default=None, description="Comma-separated media-server users who get a daily mix; unset = MEDIA_SERVER_USER.",
    )
    daily_mix_hour: int = Field(default=6, ge=0, le=23, description="Hour the daily mixes are refreshed.")

    # Collection sync (opt-in)
    sync_database_url: SecretStr | None = None
    sync_accept_policy: bool = False

    @field_validator("database_url", "sync_database_url", "dagster_pg_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if value in ("", None) else value

    @field_validator("download_cache", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)

    # Derived paths
    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def daily_mix_listeners(self) -> list[str | None]:
        """Who gets a daily mix: DAILY_MIX_USERS, else the configured user (None: the local folder's)."""
        if self.daily_mix_users:
            return [u.strip() for u in self.daily_mix_users.split(",") if u.strip()]
        return [self.media_server_user or None]

    @property
    def sample_library_small(self) -> Path:
        """The small sample library `make run` builds: the local provider's folder by default."""
        return self.download_cache / "sample-library-small"

    def public_dict(self) -> dict:
        """Settings safe to show: secrets masked, URLs stripped of passwords."""
        out = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                raw = value.get_secret_value()
                out[name] = redact_url(raw) if "://" in raw else "**********"
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


def parse_user_passwords(value: SecretStr | str | None) -> dict[str, str]:
    """``MEDIA_SERVER_USER_PASSWORDS`` (``ann:pw1,bob:pw2``) as user -> password. Each entry is
    split at its first ``:`` (a password may hold ``:``, not ``,``; spaces around an entry are ignored). A malformed entry raises a
    ValueError that names its position, never its text."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    out: dict[str, str] = {}
    for n, entry in enumerate((e for e in raw.split(",") if e.strip()), 1):
        user, sep, password = entry.strip().partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError(f"MEDIA_SERVER_USER_PASSWORDS entry {n} is not 'user:password'")
        out[user.strip()] = password
    return out


def redact_url(url: str) -> str:
    """``postgresql://user:pw@host/db`` -> ``postgresql://user:***@host/db``; query secrets too.
    libpq's keyword form (``host=db user=x password=y``) gets its secret values masked as well."""
    if "://" not in url:
        return _redact_keywords(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "**********"
    netloc = parts.netloc
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in creds else f"{user}@{host}"
    query = "&".join(
        f"{k}=***" if k.lower() in _SECRET_QUERY_KEYS else f"{k}={v}"
        for k, _, v in (p.partition("=") for p in parts.query.split("&") if p)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_SECRET_QUERY_KEYS = {"password", "p", "t", "s", "token", "api_key", "apikey", "key"}
_SECRET_KEYWORDS = {"password", "sslpassword"}


def _redact_keywords(conninfo: str) -> str:
    """``key=value`` pairs (values may be quoted) with secret values replaced by ***."""
    pattern = r"(\b(?:%s)\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)" % "|".join(sorted(_SECRET_KEYWORDS))
    return re.sub(pattern, r"\1***", conninfo, flags=re.IGNORECASE)


def set_in_environment(name: str) -> bool:
    """Whether environment variable ``name`` holds a value: Dagster resources name such secrets
    (``dg.EnvVar``) instead of carrying them."""
    return bool(os.environ.get(name))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests build their own ``Settings(...)`` instead."""
    return Settings()
