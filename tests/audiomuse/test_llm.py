"""LLM clients against fake provider servers speaking each provider's real request/response shapes."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from audiomuse.chat.prompt import extract_sql
from audiomuse.config import Settings
from audiomuse.llm import (
    GeminiClient,
    LlmError,
    MistralClient,
    OllamaClient,
    OpenAIClient,
    make_llm,
)
from tests.audiomuse.chat.fakes import FakeProviderServer

KEY = "sk-test-SECRET-0123456789abcdef"
PROVIDERS = ["ollama", "openai", "gemini", "mistral"]
CHATTY_ANSWER = (
    "Sure! Here is a query for energetic rock:\n\n"
    "```sql\n"
    "SELECT item_id, title, artist FROM chat_tracks\n"
    "ORDER BY (mood_vector->>'rock')::float DESC\n"
    "LIMIT 25;\n"
    "```\n\n"
    "This orders the songs by their rock probability."
)


def _settings(provider: str, url: str, *, key: str | None = KEY, timeout: float = 5.0, model="test-model"):
    return Settings(ai_model_provider=provider, ai_model_url=url, ai_model_name=model,
                    ai_api_key=key, ai_timeout=timeout)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_provider_request_and_response_shape(provider):
    with FakeProviderServer(provider, CHATTY_ANSWER) as server:
        client = make_llm(_settings(provider, server.url))
        answer = client.complete("SYSTEM TEXT", "USER TEXT")
    assert answer == CHATTY_ANSWER
    assert extract_sql(answer) == (
        "SELECT item_id, title, artist FROM chat_tracks\nORDER BY (mood_vector->>'rock')::float DESC\nLIMIT 25")
    assert len(server.requests) == 1
    req = server.requests[0]
    assert req.method == "POST" and req.path == server.expected_path()
    assert KEY not in req.path  # the key travels in a header only
    body = req.body
    if provider == "gemini":
        assert req.headers["x-goog-api-key"] == KEY
        assert "Authorization" not in req.headers
        assert body["system_instruction"] == {"parts": [{"text": "SYSTEM TEXT"}]}
        assert body["contents"] == [{"role": "user", "parts": [{"text": "USER TEXT"}]}]
        assert body["generationConfig"]["temperature"] == 0.0
    else:
        assert body["model"] == "test-model"
        assert body["messages"] == [{"role": "system", "content": "SYSTEM TEXT"},
                                    {"role": "user", "content": "USER TEXT"}]
        assert body["stream"] is False
        assert req.headers["Authorization"] == f"Bearer {KEY}"
        if provider == "ollama":
            assert body["options"] == {"temperature": 0.0}
        else:
            assert body["temperature"] == 0.0


def test_ollama_and_openai_need_no_key():
    for provider in ("ollama", "openai"):
        with FakeProviderServer(provider, "SELECT 1") as server:
            client = make_llm(_settings(provider, server.url, key=None))
            assert client.complete("s", "u") == "SELECT 1"
        assert "Authorization" not in server.requests[0].headers


def test_gemini_and_mistral_require_a_key():
    for provider in ("gemini", "mistral"):
        with pytest.raises(LlmError, match="AI_API_KEY is required"):
            make_llm(_settings(provider, "http://127.0.0.1:9", key=None))


def test_make_llm_none_defaults_and_endpoints():
    assert make_llm(Settings(ai_model_provider="none")) is None
    default = make_llm(Settings(ai_model_provider="mistral", ai_api_key=KEY))
    assert isinstance(default, MistralClient) and default.host == "https://api.mistral.ai"
    assert isinstance(make_llm(Settings(ai_model_provider="ollama")), OllamaClient)
    assert isinstance(make_llm(Settings(ai_model_provider="gemini", ai_api_key=KEY)), GeminiClient)
    endpoint = lambda url: OpenAIClient(url, "m")._endpoint()  # noqa: E731
    assert endpoint("http://h:8080") == "http://h:8080/v1/chat/completions"
    assert endpoint("http://h:8080/v1/") == "http://h:8080/v1/chat/completions"
    assert endpoint("https://openrouter.ai/api/v1") == "https://openrouter.ai/api/v1/chat/completions"
    assert endpoint("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


def test_ollama_url_with_api_path_and_gemini_url_with_version_are_normalised():
    with FakeProviderServer("ollama", "ok") as server:
        assert OllamaClient(server.url + "/api/generate", "test-model").complete("s", "u") == "ok"
    with FakeProviderServer("gemini", "ok") as server:
        assert GeminiClient(server.url + "/v1beta", "test-model", api_key=KEY).complete("s", "u") == "ok"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_500_is_a_clear_error(provider):
    with FakeProviderServer(provider, status=500, error_message="model runner crashed") as server:
        client = make_llm(_settings(provider, server.url))
        with pytest.raises(LlmError) as info:
            client.complete("s", "u")
    err = info.value
    assert err.status == 500 and err.provider == provider
    assert err.host == server.url
    text = str(err)
    assert text.startswith(f"{provider} at {server.url} answered HTTP 500: ")
    assert "model runner crashed" in text


def test_timeout_is_reported_quickly():
    with FakeProviderServer("openai", "late", delay=2.0) as server:
        client = make_llm(_settings("openai", server.url, timeout=0.3))
        started = time.monotonic()
        with pytest.raises(LlmError, match=r"no answer within 0\.3s"):
            client.complete("s", "u")
        assert time.monotonic() - started < 1.5


def test_unreachable_server_names_the_host():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_llm(_settings("ollama", f"http://127.0.0.1:{port}", timeout=2))
    with pytest.raises(LlmError, match=rf"ollama at http://127\.0\.0\.1:{port}: request failed: Connect"):
        client.complete("s", "u")


def test_bad_answers_are_errors_with_short_excerpts():
    with FakeProviderServer("openai", raw_body=b"<html>" + b"x" * 5000 + b"</html>") as server:
        with pytest.raises(LlmError, match="answer is not JSON: <html>x+") as info:
            make_llm(_settings("openai", server.url)).complete("s", "u")
        assert len(str(info.value)) < 400
    with FakeProviderServer("openai", raw_body=b'{"unexpected": true}') as server:
        with pytest.raises(LlmError, match="unexpected answer shape"):
            make_llm(_settings("openai", server.url)).complete("s", "u")
    with FakeProviderServer("gemini", raw_body=b'{"promptFeedback": {"blockReason": "SAFETY"}}') as server:
        with pytest.raises(LlmError, match="blockReason=SAFETY"):
            make_llm(_settings("gemini", server.url)).complete("s", "u")
    with FakeProviderServer("openai", "   ") as server:
        with pytest.raises(LlmError, match="empty answer"):
            make_llm(_settings("openai", server.url)).complete("s", "u")


def test_gemini_thought_parts_are_skipped():
    body = (b'{"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking...", "thought": true},'
            b' {"text": "SELECT 1"}]}, "finishReason": "STOP"}]}')
    with FakeProviderServer("gemini", raw_body=body) as server:
        assert make_llm(_settings("gemini", server.url)).complete("s", "u") == "SELECT 1"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_key_never_in_messages_logs_or_repr(provider, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    seen: list[str] = []
    # A careless server that echoes the request headers (with the key) in its error message.
    with FakeProviderServer(provider, status=401, error_message="bad key", echo_headers=True) as server:
        client = make_llm(_settings(provider, server.url))
        with pytest.raises(LlmError) as info:
            client.complete("s", "u")
        seen += [str(info.value), repr(info.value), *map(str, info.value.args)]
        assert "bad key" in str(info.value) and "***" in str(info.value)  # the echo arrived, scrubbed
    with FakeProviderServer(provider, "SELECT 1") as server:  # and a successful call, logged at DEBUG
        client = make_llm(_settings(provider, server.url))
        assert client.complete("s", "u") == "SELECT 1"
    with FakeProviderServer(provider, delay=1.0) as server:  # and a timeout
        with pytest.raises(LlmError) as info:
            make_llm(_settings(provider, server.url, timeout=0.2)).complete("s", "u")
        seen.append(str(info.value))
    seen += [repr(client), str(client), repr(vars(client))]
    assert caplog.records, "expected log records to inspect"
    for record in caplog.records:
        seen += [record.getMessage(), repr(record.args), str(record.msg)]
    seen.append(caplog.text)
    fragments = [KEY, KEY[:12], KEY[8:20], KEY[-12:]]
    leaks = [s for s in seen if any(f in s for f in fragments)]
    assert leaks == []
    assert "api_key=set" in repr(client)
