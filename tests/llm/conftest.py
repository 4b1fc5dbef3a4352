"""Model-layer fixtures: a scripted OpenAI-compatible server on 127.0.0.1 and settings for it.

Every test talks to the model over real HTTP through the OpenAI SDK; nothing is mocked below
the HTTP boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pipeline.llm.fake_server import FakeOpenAIServer
from pipeline.settings import LLMSettings

KEY = "sk-test-SECRET-4242"


@pytest.fixture(autouse=True)
def _no_real_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own endpoint or key must never be used (or leak into a test's defaults).
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)


def llm_settings(server: FakeOpenAIServer, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "backend": "openai",
        "base_url": server.base_url,
        "api_key": KEY,
        "backoff_base_s": 0.01,
        "max_retry_after_s": 5.0,
        "timeout_s": 10.0,
    }
    values.update(overrides)
    return LLMSettings(**values)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    """A running server with an empty script: tests give it one with ``set_script``."""
    async with FakeOpenAIServer() as fake:
        yield fake
