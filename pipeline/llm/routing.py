"""Per-role model clients: each LLM role may talk to its own endpoint with its own key and limits.

``[llm.roles.<role>]`` overrides the global ``[llm]`` values for one role (see
:class:`~pipeline.settings.RoleSettings`). Roles without an endpoint, key or limits of their own
share one client, so the global concurrency and rate limits stay one budget for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipeline.llm.types import (
    ChatModel,
    ChatReply,
    ChatRequest,
    check_chat_model,
    close_chat_model,
    model_usage,
)
from pipeline.settings import LLM_ROLES, LLMSettings

ClientFactory = Callable[[LLMSettings], ChatModel]


class RoleRouter:
    """A :class:`~pipeline.llm.types.ChatModel` that hands each request to its role's client."""

    def __init__(self, settings: LLMSettings, make_client: ClientFactory) -> None:
        self.settings = settings
        shared: ChatModel | None = None
        self._clients: dict[str, ChatModel] = {}
        self._owned: list[ChatModel] = []
        for role in LLM_ROLES:
            if settings.role_settings(role).has_own_client:
                client = make_client(settings.for_role(role))
                self._owned.append(client)
            else:
                if shared is None:
                    shared = make_client(settings)
                    self._owned.append(shared)
                client = shared
            self._clients[role] = client

    def client_for(self, role: str) -> ChatModel:
        try:
            return self._clients[role]
        except KeyError:
            raise ValueError(f"unknown LLM role {role!r} (roles: {', '.join(LLM_ROLES)})") from None

    def cache_model_name(self, role: str) -> str:
        """The model name the reply cache keys on: with the endpoint when the role has its own,
        so a role moved to another server does not replay the first server's answers."""
        own = self.settings.role_settings(role)
        model = self.settings.model_for(role)
        return f"{model}@{own.base_url}" if own.base_url else model

    async def chat(self, request: ChatRequest) -> ChatReply:
        return await self.client_for(request.role).chat(request)

    async def check_endpoint(self, roles: Sequence[str]) -> None:
        """Checks each client once, for the roles it serves among ``roles``."""
        by_client: dict[int, tuple[ChatModel, list[str]]] = {}
        for role in roles:
            client = self.client_for(role)
            by_client.setdefault(id(client), (client, []))[1].append(role)
        for client, served in by_client.values():
            await check_chat_model(client, served)

    def stats(self) -> dict[str, dict[str, Any]]:
        figures: dict[str, dict[str, Any]] = {}
        for client in self._owned:
            figures.update(model_usage(client))
        return dict(sorted(figures.items()))

    async def aclose(self) -> None:
        for client in self._owned:
            await close_chat_model(client)


class RequestDefaults:
    """The outermost layer of a run's model: puts the run's seed and each role's own temperature
    and max_tokens (``llm.roles``) into every request, above the reply cache, so the cache keys on
    what is really sent (a new seed or a changed role temperature asks again)."""

    def __init__(self, inner: ChatModel, settings: LLMSettings, *, seed: int) -> None:
        self.inner = inner
        self.settings = settings
        self.seed = seed

    def _complete(self, request: ChatRequest) -> ChatRequest:
        own = self.settings.role_settings(request.role)
        update: dict[str, Any] = {"seed": self.seed}
        if own.temperature is not None:
            update["temperature"] = own.temperature
        if own.max_tokens is not None:
            update["max_tokens"] = own.max_tokens
        return request.model_copy(update=update)

    async def chat(self, request: ChatRequest) -> ChatReply:
        return await self.inner.chat(self._complete(request))

    @property
    def model_name(self) -> str | None:
        name = getattr(self.inner, "model_name", None)
        return str(name) if name is not None else None

    async def check_endpoint(self, roles: Sequence[str]) -> None:
        await check_chat_model(self.inner, roles)

    def stats(self) -> dict[str, dict[str, Any]]:
        return model_usage(self.inner)

    async def aclose(self) -> None:
        await close_chat_model(self.inner)
