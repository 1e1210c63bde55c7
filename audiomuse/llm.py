"""Small HTTP clients for the LLM providers: one ``complete(system, user) -> str`` for every caller.

Used by chat playlists (SQL generation) and AI playlist naming. Four wire formats:

* ``ollama``  - ``POST {url}/api/chat`` with ``stream: false`` (default url ``http://localhost:11434``);
* ``openai``  - ``POST {url}/v1/chat/completions`` with an optional Bearer key: OpenAI itself and any
  compatible server (llama.cpp ``llama-server``, vLLM, LM Studio, LocalAI, OpenRouter...);
* ``gemini``  - ``POST {url}/v1beta/models/{model}:generateContent`` with the key in ``x-goog-api-key``
  (default url ``https://generativelanguage.googleapis.com``);
* ``mistral`` - ``POST {url}/v1/chat/completions`` with a Bearer key (default ``https://api.mistral.ai``).

Errors are :class:`LlmError`: provider, host, HTTP status and a short excerpt of the answer. The API
key never appears in a message, a log record or a repr: it is sent only in a header (never in a URL),
and every text that leaves this module is scrubbed of it anyway (a server may echo a header back).
"""

from __future__ import annotations

import abc
import json
import logging
import re
import time
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

log = logging.getLogger(__name__)

DEFAULT_URLS = {
    "ollama": "http://localhost:11434",
    "openai": "https://api.openai.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "mistral": "https://api.mistral.ai",
}
DEFAULT_MODELS = {
    "ollama": "mistral:7b",
    "openai": "gpt-4o-mini",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
}
EXCERPT_CHARS = 300


class LlmError(RuntimeError):
    """An LLM call failed. The message names provider and host, never the API key."""

    def __init__(self, provider: str, host: str, message: str, *, status: int | None = None,
                 unreachable: bool = False):
        prefix = f"{provider} at {host}" + (f" answered HTTP {status}" if status is not None else "")
        super().__init__(f"{prefix}: {message}" if message else prefix)
        self.provider = provider
        self.host = host
        self.status = status
        self.unreachable = unreachable  # no answer at all (timeout, refused): later calls would wait too


class _NoAnswer(Exception):
    """A well-formed response without usable text (blocked, refused, cut off)."""


def safe_host(url: str) -> str:
    """``scheme://host[:port]`` of a URL, without credentials, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        if ":" in host:  # IPv6
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}" if parts.scheme else host + port
    except ValueError:
        return "?"


class LlmClient(abc.ABC):
    """One provider endpoint. Subclasses build the request and read the answer."""

    provider: str = "?"

    def __init__(self, url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0,
                 temperature: float = 0.0):
        if not model:
            raise LlmError(self.provider, safe_host(url), "no model name configured (AI_MODEL_NAME)")
        self.url = url.rstrip("/")
        self.model = model
        self.timeout = float(timeout)
        self.temperature = temperature
        # SecretStr: even vars(client) or a debugger's dump shows '**********'
        self.__api_key = SecretStr(api_key) if api_key else None

    @property
    def host(self) -> str:
        return safe_host(self.url)

    @property
    def has_api_key(self) -> bool:
        return self.__api_key is not None

    def _key(self) -> str | None:
        return self.__api_key.get_secret_value() if self.__api_key is not None else None

    def __repr__(self) -> str:
        key = "set" if self.__api_key else "none"
        return f"{type(self).__name__}(host={self.host!r}, model={self.model!r}, api_key={key})"

    __str__ = __repr__

    # -- the one public call -------------------------------------------------------------------

    def complete(self, system: str, user: str, *, temperature: float | None = None) -> str:
        """The model's text answer to one system + user message pair."""
        temperature = self.temperature if temperature is None else temperature
        endpoint, headers, body = self._request(system, user, temperature)
        started = time.monotonic()
        try:
            response = httpx.post(endpoint, headers=headers, json=body, timeout=self.timeout,
                                  follow_redirects=False)
        except httpx.TimeoutException:
            raise self._error(f"no answer within {self.timeout:g}s (AI_TIMEOUT)", unreachable=True) from None
        except httpx.HTTPError as exc:
            raise self._error(f"request failed: {type(exc).__name__}: {_excerpt(self._scrub(str(exc)))}",
                              unreachable=True) from None
        elapsed = time.monotonic() - started
        body = self._scrub(response.text)  # before any excerpt can cut a key in half
        if response.status_code >= 400:
            raise self._error(_error_excerpt(body) or response.reason_phrase, status=response.status_code)
        if response.status_code != 200:
            raise self._error(f"unexpected answer: {_excerpt(body)}", status=response.status_code)
        try:
            payload = response.json()
        except ValueError:
            raise self._error(f"answer is not JSON: {_excerpt(body)}") from None
        try:
            text = self._read(payload)
        except _NoAnswer as exc:
            raise self._error(f"no answer: {exc}") from None
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._error(f"unexpected answer shape ({type(exc).__name__}): {_excerpt(body)}") from None
        if not isinstance(text, str) or not text.strip():
            raise self._error(f"empty answer: {_excerpt(body)}")
        log.info("%s %s (%s) answered %d chars in %.2fs", self.provider, self.host, self.model, len(text), elapsed)
        return text

    # -- per provider ------------------------------------------------------------------------------

    @abc.abstractmethod
    def _request(self, system: str, user: str, temperature: float) -> tuple[str, dict, dict]:
        """(endpoint URL, headers, JSON body)."""

    @abc.abstractmethod
    def _read(self, payload) -> str:
        """The answer text out of the decoded JSON response."""

    def _error(self, message: str, *, status: int | None = None, unreachable: bool = False) -> LlmError:
        return LlmError(self.provider, self.host, self._scrub(message), status=status, unreachable=unreachable)

    def _scrub(self, text: str) -> str:
        key = self._key()
        if key:
            text = text.replace(key, "***")
        return text


class OllamaClient(LlmClient):
    provider = "ollama"

    def _request(self, system, user, temperature):
        base = _strip_suffix(self.url, ("/api/chat", "/api/generate", "/api"))
        headers = {"Content-Type": "application/json"}
        if self._key():  # a reverse proxy in front of Ollama may want one
            headers["Authorization"] = f"Bearer {self._key()}"
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "stream": False,
            "options": {"temperature": temperature},
        }
        return f"{base}/api/chat", headers, body

    def _read(self, payload):
        if isinstance(payload, dict) and payload.get("error"):
            raise _NoAnswer(str(payload["error"]))
        return payload["message"]["content"]


class OpenAIClient(LlmClient):
    """OpenAI chat completions, and every server speaking the same protocol."""

    provider = "openai"

    def _endpoint(self) -> str:
        path = urlsplit(self.url).path.rstrip("/")
        if path.endswith("/chat/completions"):
            return self.url
        last = path.rsplit("/", 1)[-1]
        if re.fullmatch(r"v\d+[a-z0-9]*", last) or last == "openai":  # .../v1, .../v1beta/openai
            return f"{self.url}/chat/completions"
        return f"{self.url}/v1/chat/completions"

    def _request(self, system, user, temperature):
        headers = {"Content-Type": "application/json"}
        if self._key():
            headers["Authorization"] = f"Bearer {self._key()}"
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": temperature,
            "stream": False,
        }
        return self._endpoint(), headers, body

    def _read(self, payload):
        choice = payload["choices"][0]
        content = choice["message"]["content"]
        if isinstance(content, list):  # some servers answer with content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if content is None:
            raise _NoAnswer(f"no content (finish_reason={choice.get('finish_reason')})")
        return content


class MistralClient(OpenAIClient):
    provider = "mistral"


class GeminiClient(LlmClient):
    provider = "gemini"

    def _request(self, system, user, temperature):
        base, path = self.url, urlsplit(self.url).path
        if "/v1" in path:  # ".../v1beta" or a full method URL was configured: keep what precedes it
            base = base[: len(base) - len(path) + path.index("/v1")]
        headers = {"Content-Type": "application/json", "x-goog-api-key": self._key() or ""}
        body = {
            "system_instruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": [{"text": user}]}],
            "generationConfig": {"temperature": temperature},
        }
        return f"{base}/v1beta/models/{self.model}:generateContent", headers, body

    def _read(self, payload):
        candidates = payload.get("candidates") or []
        if not candidates:
            feedback = payload.get("promptFeedback", {})
            raise _NoAnswer(f"no candidates (blockReason={feedback.get('blockReason')})")
        candidate = candidates[0]
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
        if not text:
            raise _NoAnswer(f"no text (finishReason={candidate.get('finishReason')})")
        return text


CLIENTS: dict[str, type[LlmClient]] = {
    "ollama": OllamaClient,
    "openai": OpenAIClient,
    "gemini": GeminiClient,
    "mistral": MistralClient,
}


def make_llm(settings) -> LlmClient | None:
    """The configured client, or ``None`` for ``AI_MODEL_PROVIDER=none`` (offline mode)."""
    provider = (settings.ai_model_provider or "none").lower()
    if provider == "none":
        return None
    if provider not in CLIENTS:
        raise LlmError(provider, "?", f"unknown AI_MODEL_PROVIDER {provider!r}")
    url = settings.ai_model_url or DEFAULT_URLS[provider]
    key = settings.ai_api_key.get_secret_value() if settings.ai_api_key is not None else None
    if provider in ("gemini", "mistral") and not key:
        raise LlmError(provider, safe_host(url), "AI_API_KEY is required")
    return CLIENTS[provider](
        url, settings.ai_model_name or DEFAULT_MODELS[provider], api_key=key, timeout=settings.ai_timeout,
    )


def _strip_suffix(url: str, suffixes: tuple[str, ...]) -> str:
    url = url.rstrip("/")
    for suffix in suffixes:
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_excerpt(body: str) -> str:
    """The provider's own error message when it sends one (Ollama, OpenAI and Gemini wrap it in
    ``error``; Mistral answers ``{"object": "error", "message": ...}``), else the body."""
    try:
        payload = json.loads(body)
    except ValueError:
        return _excerpt(body)
    if isinstance(payload, dict) and "error" in payload:
        err = payload["error"]
        if isinstance(err, dict):
            err = err.get("message") or json.dumps(err)
        return _excerpt(str(err))
    if isinstance(payload, dict) and "message" in payload:
        return _excerpt(str(payload["message"]))
    return _excerpt(body)
