"""What a tool call gives back, in the shape ToolBench's trajectories use.

An :class:`Observation` keeps the whole response for the trajectory; :meth:`for_model` is the
``{"error": ..., "response": ...}`` JSON a policy model sees, cut to a configurable length
(ToolBench: 1,024 characters) without breaking the JSON (:mod:`pipeline.env.shorten`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from pipeline.env.shorten import fit_json

CallMode = Literal["real", "simulated", "llm-simulated", "rejected"]


class Observation(BaseModel):
    error: str = ""
    response: Any = None
    status: int | None = None  # HTTP status for real calls
    mode: CallMode = "real"
    cached: bool = False
    elapsed_ms: float = 0.0
    truncated: bool = False  # the response body passed the byte cap and was cut

    @property
    def ok(self) -> bool:
        return not self.error

    def to_toolbench(self) -> dict[str, Any]:
        return {"error": self.error, "response": self.response}

    def for_model(self, max_chars: int = 1024) -> str:
        """The ``{"error", "response"}`` JSON, shortened structurally to ``max_chars``
        (:func:`pipeline.env.shorten.fit_json`): still JSON, saying what was cut."""
        return fit_json(self.to_toolbench(), max_chars)


def error_observation(message: str, *, mode: CallMode = "rejected", status: int | None = None) -> Observation:
    """An error the model should learn from, like a real API's 400."""
    return Observation(error=message, response=None, mode=mode, status=status)
