"""Remote backend: any OpenAI-compatible ``/v1/chat/completions`` endpoint, streamed (SSE).

For users who outgrow their machine: llama.cpp's server, llama-cpp-python's server, vLLM. The
prompts are the same as the local backend's. Adapters map to the endpoint's *model names* (vLLM
serves each LoRA adapter as a model; llama-cpp-python's server can list one model per adapter in
its config), so a request can pick one adapter; scales cannot be sent.

The grammar is sent as the ``grammar`` field only to endpoints known to accept GBNF there
(llama.cpp's and llama-cpp-python's servers, recognised by ``owned_by`` in ``/v1/models``); the
after-the-fact citation check runs for every answer anyway.

Only the standard library (urllib): no HTTP dependency for a feature most users never turn on.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any, Sequence

from ragls.core.prompting import estimate_tokens
from ragls.core.requests import NO_HOOKS, AnswerHooks, GenerationRequest
from ragls.model.backend import Generation, ModelLoadError
from ragls.settings import AdapterSpec, ModelSettings

# owned_by values of servers whose chat endpoint takes a GBNF "grammar" field.
GRAMMAR_SERVERS = {"me": "llama-cpp-python", "llamacpp": "llama.cpp"}
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0  # a long prompt on a busy server takes a while before the first token


def _base_url(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


class RemoteBackend:
    """An OpenAI-compatible endpoint. Construct with :meth:`connect`."""

    def __init__(self, settings: ModelSettings, models: list[dict[str, Any]]) -> None:
        assert settings.remote.url
        self._base = _base_url(settings.remote.url)
        self._api_key = settings.remote.api_key
        self._models = {str(m.get("id")) for m in models}
        owners = {str(m.get("owned_by", "")) for m in models}
        server = next((GRAMMAR_SERVERS[o] for o in owners if o in GRAMMAR_SERVERS), None)
        self.enforces_grammar = server is not None
        self._model = settings.remote.model or (str(models[0]["id"]) if models else None)
        self.source = f"remote:{self._model or 'default'}"
        self.context_size = settings.context_size
        self._adapter_models: dict[str, str] = {}
        self.detail = f"{self._base} ({server or 'OpenAI-compatible'}), model {self._model or 'default'}"

    @classmethod
    def connect(cls, settings: ModelSettings, log: logging.Logger) -> tuple["RemoteBackend", list[str]]:
        assert settings.remote.url
        base = _base_url(settings.remote.url)
        try:
            body = cls._get(f"{base}/models", settings.remote.api_key)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ModelLoadError(f"remote endpoint {settings.remote.url} not reachable: {getattr(exc, 'reason', exc)}") from exc
        models = body.get("data") if isinstance(body, dict) else None
        if not isinstance(models, list):
            raise ModelLoadError(f"remote endpoint {settings.remote.url} did not answer /v1/models like an OpenAI API")
        backend = cls(settings, models)
        warnings = backend.load_adapters(settings.adapters)
        log.info("remote model: %s", backend.detail)
        return backend, warnings

    @staticmethod
    def _get(url: str, api_key: str | None) -> Any:
        request = urllib.request.Request(url, headers=RemoteBackend._headers(api_key))
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response:
            return json.loads(response.read().decode("utf-8"))

    @staticmethod
    def _headers(api_key: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return headers

    def usable_adapters(self) -> tuple[str, ...]:
        return tuple(self._adapter_models)

    def load_adapters(self, specs: Sequence[AdapterSpec]) -> list[str]:
        """An adapter is usable when the endpoint serves a model of its name (or its path)."""
        self._adapter_models = {}
        warnings = []
        for spec in specs:
            model = spec.name if spec.name in self._models else spec.path if spec.path in self._models else None
            if model is None:
                warnings.append(f"adapter '{spec.name}' not served by the remote endpoint (models: {', '.join(sorted(self._models))})")
            else:
                self._adapter_models[spec.name] = model
        return warnings

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return sum(estimate_tokens(m["content"]) + 8 for m in messages)

    def generate(self, request: GenerationRequest, hooks: AnswerHooks = NO_HOOKS) -> Generation:
        # (hooks.on_prompt is never called: an endpoint does not report its reading)
        messages, grammar, adapters = request.messages, request.grammar, request.adapters
        temperature, seed, max_tokens = request.temperature, request.seed, request.max_tokens
        on_delta, cancel = hooks.on_delta, hooks.cancel
        warnings: list[str] = []
        model = self._model
        chosen = [(name, scale) for name, scale in adapters if scale != 0.0 and name in self._adapter_models]
        if chosen:
            model = self._adapter_models[chosen[0][0]]
            if len(chosen) > 1:
                warnings.append(f"the remote endpoint serves one adapter per request; using '{chosen[0][0]}'")
            if chosen[0][1] != 1.0:
                warnings.append("the remote endpoint cannot scale adapters; scale ignored")
        payload: dict[str, Any] = {
            "messages": list(messages),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if model:
            payload["model"] = model
        if seed is not None:
            payload["seed"] = seed
        if grammar and self.enforces_grammar:
            payload["grammar"] = grammar
            # A llama.cpp-family server (the ones that take grammars) applies its own repeat
            # penalty by default (llama-cpp-python's: 1.1); ask for the one local answers use
            # (llama_backend.REPEAT_PENALTY, not imported: that module needs llama_cpp).
            payload["repeat_penalty"] = 1.0
        request = urllib.request.Request(
            f"{self._base}/chat/completions",
            data=json.dumps(payload).encode("utf-8"),
            headers=self._headers(self._api_key),
            method="POST",
        )
        parts: list[str] = []
        finish = "stop"
        chunks = 0
        try:
            with urllib.request.urlopen(request, timeout=READ_TIMEOUT_S) as response:
                for raw in response:
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    choice = (event.get("choices") or [{}])[0]
                    delta = (choice.get("delta") or {}).get("content") or ""
                    if delta:
                        chunks += 1
                        parts.append(delta)
                        if on_delta is not None:
                            on_delta(delta)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break  # closing the response drops the connection; the server stops
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise RuntimeError(f"remote endpoint answered HTTP {exc.code}: {detail}") from exc
        return Generation(
            text="".join(parts),
            finish_reason=finish,
            completion_tokens=chunks,
            warnings=tuple(warnings),
        )

    def close(self) -> None:
        pass
