"""What the verification funnel says about one sample, as plain models.

These live apart from the checks and the judges that produce them so that the records of
:mod:`pipeline.records` (an accepted or rejected sample carries its :class:`Verification`) can
import them without importing the funnel, which itself reads those records.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

Verdict = Literal["solved", "unsolved", "unsure"]
FailedAt = Literal["format", "execution", "grounding", "semantic"]


class CheckResult(BaseModel):
    """One check's outcome: ``reasons`` name every failure (empty when passed)."""

    passed: bool
    reasons: list[str] = Field(default_factory=list)
    corrected: list[str] = Field(default_factory=list, description="failed calls a later call put right")


class ArgumentFlag(BaseModel):
    """An argument value that comes from nowhere the model could read (see
    :mod:`pipeline.verify.grounding`)."""

    call: int = Field(description="1-based position of the call on the path")
    function: str
    argument: str
    value: str = Field(description="the value as Python shows it, cut to 60 characters")
    required: bool


class GroundingResult(CheckResult):
    """The grounding check: passes unless a required argument is ungrounded."""

    arguments: int = Field(default=0, description="argument values checked (Finish aside)")
    grounded: int = Field(default=0, description="of them, found in the instruction, an observation, the schema or free")
    flagged: list[ArgumentFlag] = Field(default_factory=list, description="every ungrounded argument, required or not")
    sources: dict[str, int] = Field(default_factory=dict, description="grounded arguments per source")


class Judgement(BaseModel):
    verdict: Verdict
    votes: list[Verdict] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list, description="the reasons as categories, for counting")
    judge: str = ""


class Verification(BaseModel):
    """What the funnel found for one sample."""

    passed: bool
    failed_at: FailedAt | None = None
    format: CheckResult
    execution: CheckResult | None = None
    grounding: GroundingResult | None = None
    semantic: Judgement | None = None
    corrected_errors: int = Field(default=0, description="failed calls the path put right (kept: they teach recovery)")

    @model_serializer(mode="wrap")
    def _without_absent_grounding(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # verdicts written before the grounding check existed (or with it off) read and write
        # back the same line
        data: dict[str, Any] = handler(self)
        if self.grounding is None:
            data.pop("grounding", None)
        return data

    @property
    def reasons(self) -> list[str]:
        if self.failed_at == "format":
            return self.format.reasons
        if self.failed_at == "execution" and self.execution is not None:
            return self.execution.reasons
        if self.failed_at == "grounding" and self.grounding is not None:
            return self.grounding.reasons
        if self.failed_at == "semantic" and self.semantic is not None:
            return [f"the judge said {self.semantic.verdict}", *self.semantic.reasons]
        return []

    @property
    def reason_kinds(self) -> list[str]:
        """The reasons as categories (no call numbers, names or values), for the funnel table."""
        if self.failed_at == "semantic" and self.semantic is not None:
            return [f"semantic: {kind}" for kind in self.semantic.kinds or [f"the judge said {self.semantic.verdict}"]]
        if self.failed_at == "grounding":  # one kind: the argument names and functions are particulars
            return ["grounding: ungrounded required argument"]
        return list(dict.fromkeys(reason_kind(self.failed_at or "", r) for r in self.reasons))


def reason_kind(failed_at: str, reason: str) -> str:
    """A reason without its particulars (call numbers, names, values), for counting."""
    text = re.sub(r"^call \d+(?: \([^)]*\))?:?\s*", "", reason)
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\b\d+(?:\.\d+)?\b", "…", text)
    text = text.split(":", 1)[0].strip()
    return f"{failed_at}: {text[:90]}"
