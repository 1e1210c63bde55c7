"""Resources: the app database, the media server and the LLM, configured from ``audiomuse.config``.

No secret is a resource field: URLs and credentials come from the environment at run time, so the
Dagster UI and run config never show them.
"""

import dagster as dg

from audiomuse.config import Settings, get_settings
from audiomuse.llm import LlmClient, make_llm
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


class LLMResource(dg.ConfigurableResource):
    """The LLM that names playlists (``AI_MODEL_PROVIDER``; ``none`` = automatic names only).

    Unset fields take the settings' values at run time. The API key is deliberately not a field:
    it is read from ``AI_API_KEY`` (environment or config file) when the client is made.
    """

    provider: str | None = None
    """ollama, openai, gemini, mistral or none; unset = AI_MODEL_PROVIDER."""
    url: str | None = None
    """Endpoint; unset = AI_MODEL_URL, else the provider's default."""
    model: str | None = None
    """Model name; unset = AI_MODEL_NAME, else the provider's default."""
    timeout_seconds: float | None = None
    """Per request; unset = AI_TIMEOUT."""

    def client(self) -> LlmClient | None:
        """The configured client, or ``None`` when no LLM is configured (raises ``LlmError`` if misconfigured)."""
        overrides = {k: v for k, v in {
            "ai_model_provider": self.provider, "ai_model_url": self.url, "ai_model_name": self.model,
            "ai_timeout": self.timeout_seconds,
        }.items() if v is not None}
        return make_llm(get_settings().model_copy(update=overrides))


def default_resources() -> dict:
    return {"database": DatabaseResource(), "media_server": MediaServerResource(), "llm": LLMResource()}
