"""The model layer: one async chat interface for every LLM role.

``types`` (the interface), ``openai_backend`` (any OpenAI-compatible endpoint: native or
ReAct-text tool calls, concurrency and rate limits, retries, accounting), ``cache`` (persistent
replies keyed by the request), ``factory`` (the model a run's settings ask for) and
``fake_server`` (a scripted local endpoint for tests and benchmarks). Only the interface is
imported here, so code that merely names a model does not pay for importing the SDK.
"""

from pipeline.llm.types import (
    ChatModel,
    ChatReply,
    ChatRequest,
    ModelError,
    ToolCall,
    Usage,
    close_chat_model,
)

__all__ = ["ChatModel", "ChatReply", "ChatRequest", "ModelError", "ToolCall", "Usage", "close_chat_model"]
