"""The semantic check (funnel stage 3): do the calls and the final answer fulfil the instruction?

Two judges give the same :class:`Judgement`:

* :class:`LLMJudge` asks the ``judge`` role of the model layer, as ToolEval's pass rate does:
  the instruction, the calls with their (cut) observations and the final answer go in; a JSON
  verdict ``Solved`` / ``Unsolved`` / ``Unsure`` with a reason comes out. It asks ``votes`` times
  (distinct samples) and the majority decides; no majority is ``unsure``. A reply that holds no
  readable verdict is asked once more, then counted as an ``unsure`` vote with its text kept.
* :class:`OfflineJudge` is a clear rule, for runs without a model. It is NOT a judgment of
  meaning: it says ``solved`` when (1) every relevant API of the query that the policy was
  offered was called successfully on the path, and (2) the final answer repeats at least one
  value (a number or a word of 4+ letters) that a successful observation returned and the
  instruction did not already contain, i.e. the answer is grounded in what the APIs said.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from pipeline.env.observation import Observation
from pipeline.env.shorten import fit_json
from pipeline.io import dumps
from pipeline.llm.jsonparse import NotJson, find_json
from pipeline.llm.structured import StructuredAsker, StructuredMode
from pipeline.llm.types import ChatModel, ChatRequest, ModelError, is_refused_option
from pipeline.records import TrajectoryRecord
from pipeline.verify.checks import PathCall
from pipeline.verify.verdict import Judgement, Verdict

OFFLINE_JUDGE_NAME = "offline-rule-judge"
RETURNED_CHARS = 800  # each observation in the judge's prompt, shortened structurally

# (tool name, API name) of a relevant API → (tool id, API id) in the catalog, or None.
ApiLookup = Callable[[str, str], tuple[str, str] | None]


class Judge(Protocol):
    name: str

    async def judge(self, record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall]) -> Judgement: ...


def final_answer(calls: list[PathCall]) -> str:
    last = calls[-1] if calls else None
    if last is None or not last.is_finish or last.arguments is None:
        return ""
    answer = last.arguments.get("final_answer")
    return answer if isinstance(answer, str) else ""


# --- the offline rule ---------------------------------------------------------------------------

_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?|[^\W\d_]{4,}", re.UNICODE)
_COMMON = frozenset(
    ["here", "what", "found", "results", "result", "about", "with", "from", "that", "this", "your", "have", "which", "there", "their", "were", "been", "will", "would", "could", "should", "results", "error", "response", "name", "data", "true", "false", "none", "null"]
)


def _tokens(text: str) -> set[str]:
    return {t for t in (m.lower() for m in _TOKEN.findall(text)) if t not in _COMMON}


class OfflineJudge:
    """The rule in the module docstring; ``lookup`` resolves the query's relevant API names."""

    name = OFFLINE_JUDGE_NAME

    def __init__(self, lookup: ApiLookup | None = None) -> None:
        self._lookup = lookup

    async def judge(self, record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall]) -> Judgement:
        return self.judge_now(record, calls)

    def judge_now(self, record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall]) -> Judgement:
        record = TrajectoryRecord.of(record)
        reasons: list[str] = []
        succeeded = [c for c in calls if not c.is_finish and c.error is None and not c.schema_errors]
        if not succeeded:
            reasons.append("no API call on the path succeeded")
        missing = self._uncovered(record, succeeded)
        if missing:
            reasons.append("relevant APIs never called successfully: "
                           + ", ".join(f"{tool}/{api}" for tool, api in missing[:5]))
        answer = final_answer(calls)
        returned: set[str] = set()
        for call in succeeded:
            returned |= _tokens(dumps((call.observation or {}).get("response")).decode())
        grounded = (_tokens(answer) & returned) - _tokens(record.query)
        if succeeded and not grounded:
            reasons.append("the final answer repeats nothing the APIs returned")
        verdict: Verdict = "unsolved" if reasons else "solved"
        kinds = [r.split(":", 1)[0] for r in reasons]
        return Judgement(verdict=verdict, votes=[verdict], reasons=reasons, kinds=kinds, judge=self.name)

    def _uncovered(self, record: TrajectoryRecord, succeeded: list[PathCall]) -> list[tuple[str, str]]:
        if self._lookup is None:
            return []
        called = {c.api for c in succeeded}
        missing = []
        for tool, api in record.relevant_apis or []:
            # An API the catalog lacks was never offered to the policy, so it cannot be demanded.
            ids = self._lookup(tool, api)
            if ids is not None and ids not in called:
                missing.append((tool, api))
        return missing


# --- the LLM judge ------------------------------------------------------------------------------

JUDGE_SYSTEM_PROMPT = """You evaluate whether an AI assistant solved a user's task by calling APIs.
You see the task, every API call the assistant made with what the API returned, and the final answer.
Decide:
- "Solved": the final answer addresses every part of the task and is supported by what the APIs returned.
- "Unsolved": a part of the task is not addressed, the answer contradicts or invents results, or the calls could not have produced it.
- "Unsure": you cannot tell from what is shown.
Reply with one JSON object only: {"answer_status": "Solved" | "Unsolved" | "Unsure", "reason": "<one sentence>"}"""

log = logging.getLogger(__name__)

_SAMPLED_INDEX = -1  # the n-sampled request's own cache slot, apart from the one-vote requests

JUDGEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer_status": {"type": "string", "enum": ["Solved", "Unsolved", "Unsure"]},
        "reason": {"type": "string"},
    },
    "required": ["answer_status", "reason"],
    "additionalProperties": False,
}
"""What :data:`JUDGE_SYSTEM_PROMPT` asks for, sent as ``response_format`` where the server takes it."""

_STATUS: dict[str, Verdict] = {"solved": "solved", "unsolved": "unsolved", "unsure": "unsure"}


def render_path(record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall], limit: int) -> str:
    """The task, calls, observations and answer as the judge reads them, cut to ``limit`` chars."""
    lines = [f"Task: {TrajectoryRecord.of(record).query}", ""]
    for call in calls:
        if call.is_finish:
            continue
        # What the API answered, as the policy saw it; never how the run got it (status, mode,
        # cached, elapsed_ms): the prompt must be the same when a rerun replays from a cache, or
        # the judge is asked again (and paid again) for the same sample.
        shown = (Observation.model_validate(call.observation).to_toolbench() if call.observation is not None
                 else {"error": "no observation", "response": None})
        lines.append(f"Call {call.index}: {call.name}({call.raw_arguments})")
        lines.append(f"Returned: {fit_json(shown, RETURNED_CHARS)}")
    lines += ["", f"Final answer: {final_answer(calls)}"]
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 20] + "\n...[cut]..."


def read_verdict(text: str | None) -> tuple[Verdict, str] | None:
    """The verdict and reason of a judge reply, or None when it holds none."""
    if not text:
        return None
    try:
        value = find_json(text, accept=lambda v: isinstance(v, dict) and "answer_status" in v)
    except NotJson:
        match = re.search(r"\b(unsolved|solved|unsure)\b", text, re.IGNORECASE)
        return (_STATUS[match.group(1).lower()], text.strip()[:300]) if match else None
    status = _STATUS.get(str(value.get("answer_status", "")).strip().lower())
    if status is None:
        return None
    return status, str(value.get("reason") or "")[:300]


def majority(votes: Iterable[Verdict]) -> Verdict:
    """The verdict more than half the votes gave; else ``unsure`` (ToolEval's tie rule)."""
    counted = Counter(votes)
    total = sum(counted.values())
    for verdict in ("solved", "unsolved"):
        if counted[verdict] * 2 > total:
            return verdict
    return "unsure"


class LLMJudge:
    """The ``judge`` role, ``votes`` judgments per sample (distinct ``sample_index``)."""

    def __init__(self, model: ChatModel, *, model_name: str, votes: int = 3,
                 trajectory_chars: int = 6000, temperature: float | None = None,
                 structured_output: StructuredMode = "json_schema") -> None:
        self._model = model
        # one asker for the whole stage: a server that refuses json_schema is told once
        self._asker = StructuredAsker(model, mode=structured_output, name="judgement", schema=JUDGEMENT_SCHEMA)
        self.name = model_name
        self.sample_together = True  # n = votes in one request, until a server refuses it
        self.votes = votes
        self.trajectory_chars = trajectory_chars
        # One vote at temperature 0 is deterministic; several need sampling to be worth having.
        self.temperature = temperature if temperature is not None else (0.0 if votes == 1 else 0.7)

    async def judge(self, record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall]) -> Judgement:
        shown = render_path(record, calls, self.trajectory_chars)
        messages = [{"role": "system", "content": JUDGE_SYSTEM_PROMPT}, {"role": "user", "content": shown}]
        sampled = await self._sampled_votes(messages)
        votes: list[Verdict] = []
        reasons: list[str] = []
        for vote in range(self.votes):
            # a vote the n-sampled request did not give (or gave unreadable) is asked on its own
            said, reason = sampled[vote] if vote < len(sampled) else await self._one_vote(messages, vote)
            votes.append(said)
            reasons.append(reason)
        verdict = majority(votes)
        return Judgement(verdict=verdict, votes=votes, reasons=reasons, kinds=[f"the judge said {verdict}"],
                         judge=self.name)

    async def _sampled_votes(self, messages: list[dict[str, Any]]) -> list[tuple[Verdict, str]]:
        """Several votes from one request (``n = votes``) where the server samples that way: one
        prompt paid once instead of ``votes`` times. Readable verdicts only, in choice order."""
        if self.votes < 2 or not self.sample_together:
            return []
        try:
            reply = await self._asker.chat(ChatRequest(
                role="judge", messages=messages, temperature=self.temperature, n=self.votes,
                sample_index=_SAMPLED_INDEX))
        except ModelError as error:
            if not is_refused_option(error):
                raise
            log.info("the judge's server refused n=%d (%s); asking for each vote on its own",
                     self.votes, str(error)[:200])
            self.sample_together = False
            return []
        found: list[tuple[Verdict, str]] = []
        for sample in reply.samples[: self.votes]:
            verdict = read_verdict(sample.content)
            if verdict is None:
                break  # the rest are asked one by one, keeping vote order
            found.append(verdict)
        return found

    async def _one_vote(self, messages: list[dict[str, Any]], vote: int) -> tuple[Verdict, str]:
        text = ""
        for attempt in range(2):  # a reply without a verdict is asked once more (a new sample)
            reply = await self._asker.chat(ChatRequest(
                role="judge", messages=messages, temperature=self.temperature if attempt == 0 else 0.7,
                sample_index=vote + attempt * self.votes,
            ))
            text = reply.content or ""
            found = read_verdict(text)
            if found is not None:
                return found
        return "unsure", f"no verdict in the judge's reply: {text[:200]!r}"
