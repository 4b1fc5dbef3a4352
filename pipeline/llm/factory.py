"""The chat model a run uses, built from its settings."""

from __future__ import annotations

from pathlib import Path

from pipeline.llm.cache import CachedChatModel
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.routing import RequestDefaults, RoleRouter
from pipeline.llm.types import ChatModel, close_chat_model
from pipeline.settings import Settings

__all__ = ["CACHE_FILE", "build_chat_model", "close_chat_model"]

CACHE_FILE = Path("llm") / "cache.sqlite"


def build_chat_model(settings: Settings, *, run_dir: Path) -> ChatModel | None:
    """The configured model, or None for the offline backend (its rule-based engine stands in).

    Each role gets its own client when ``llm.roles.<role>`` gives it an endpoint, key or limits
    (:class:`~pipeline.llm.routing.RoleRouter`). With ``llm.cache`` on, replies are kept in ``<run_dir>/llm/cache.sqlite`` and replayed.
    The caller closes it with :func:`close_chat_model` when the run is done.
    """
    llm = settings.llm
    if llm.backend == "offline":
        return None
    model: ChatModel
    model_name_for = llm.model_for
    if llm.roles:
        router = RoleRouter(llm, OpenAIChatModel)
        model, model_name_for = router, router.cache_model_name
    else:
        model = OpenAIChatModel(llm)
    if llm.batch:
        from pipeline.llm.batch import BATCH_ROLES, BatchChatModel, BatchRoles

        roles = tuple(role for role in BATCH_ROLES if not llm.role_settings(role).has_own_client)
        batch = BatchChatModel(OpenAIChatModel(llm), Path(run_dir), flush_s=llm.batch_flush_s,
                               poll_s=llm.batch_poll_s, max_requests=llm.batch_max_requests)
        model = BatchRoles(model, batch, roles)
    if llm.cache:
        # The tool mode changes what is sent for the same request, so it is part of the key.
        model = CachedChatModel(model, Path(run_dir) / CACHE_FILE, model_name_for=model_name_for,
                                namespace=f"tool_mode={llm.tool_mode}")
    return RequestDefaults(model, llm, seed=settings.seed)

