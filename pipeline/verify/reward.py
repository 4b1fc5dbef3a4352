"""ToolRL's rule reward (Qian et al. 2025, arXiv 2504.13958) for GRPO rows.

A completion is ``<think>...</think>`` followed by ``<tool_call>`` holding one
``{"name": ..., "parameters": {...}}`` JSON object per line and ``</tool_call>``, and/or
``<response>...</response>``. The ground truth an RL row stores is a reference completion in the
same format (see :func:`render_reference`).

Reward = format (0 or 1) + correctness (-3 to 3), so it lies in [-3, 4]:

* format is 1 when the completion has ``<think>`` and exactly the other blocks the reference has,
  each tag exactly once, in the order think, tool_call, response, with nothing but whitespace
  outside the blocks (ToolRL checks this with anchored regular expressions);
* correctness compares the calls: -3 when calls are expected and none parse, 3 on an exact match
  (as multisets of name + parameters), else ``6·S/S_max − 3`` with multiset Jaccard similarity
  ``J(A, B) = |A∩B| / |A∪B|``, ``S = J(names) + Σ_ref [J(param names) + #equal values]`` over the
  best unused same-name predicted call for each reference call (greedily, in reference order, as
  ToolRL does), and ``S_max = 1 + Σ_ref (1 + #params)``;
* when the reference has a ``<response>`` (the final answer of a path), the answer counts too: a
  completion without a response, or with a blank one (where the reference's is not), scores -3,
  like a missing call; otherwise ``S`` gains the answer's token F1 against the reference response
  (lower-cased word tokens, as SQuAD scores answers) and ``S_max`` gains 1, and full marks need
  F1 = 1 as well as equal calls.
  ToolRL leaves the response unscored; without this an empty completion scored 3 of 4 on answer
  rows (no calls expected, none made).

Conventions where the paper is silent: ``J`` of two empty multisets is 1 (they are equal); so a
reference without calls or response and a completion without calls score 3, while a completion
that calls tools where the reference calls none scores -3 (J(names) = 0; at most 0 with a
perfect answer), as does a tool_call block with a line that is not a call, whatever the
reference. Values are equal when they
are the same JSON value, numbers by value (``1 == 1.0``) and bools never numbers; strings are
compared exactly, as ToolRL does.

This file needs the standard library only and can be copied out of the project: verl loads it by
path (``custom_reward_function.path=.../reward.py``, ``custom_reward_function.name=compute_score``)
with ``importlib.util.spec_from_file_location`` and ``exec_module``, without registering it in
``sys.modules``. That is why it has dataclasses rather than pydantic models and no
``from __future__ import annotations``: both pydantic and dataclasses resolve string annotations
through ``sys.modules`` and fail on a module that is not there.
"""

import json
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BLOCK_TAGS = ("think", "tool_call", "response")
MAX_CORRECTNESS = 3.0
MIN_CORRECTNESS = -3.0
MAX_FORMAT = 1.0
MAX_DEPTH = 64  # deeper parameters are not a call (see _too_deep)

TOOLRL_SYSTEM_PROMPT = """\
You are a helpful assistant that can call tools to solve the user's task.

Answer in this format:
<think> Your reasoning: what the user needs, which tools help, and with which arguments. </think>
<tool_call>
{"name": "tool name", "parameters": {"argument name": "argument value"}}
{"name": "another tool name", "parameters": {}}
</tool_call>
<response> Your reply to the user. </response>

Always start with <think>. Then give <tool_call>, <response>, or both: one tool call per line as \
a JSON object with "name" and "parameters", using only the tools listed below and only their \
parameters. Use <response> to talk to the user, for example to answer from earlier tool results \
or to ask for missing information. Each tag appears at most once.

The tools you can call, one JSON object per line:"""

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ParsedCompletion:
    """The parts of a completion.

    ``calls`` is ``[]`` when there is no ``<tool_call>`` block and ``None`` when the block has a
    line that is not a ``{"name": str, "parameters": object}`` JSON object. Only the first block
    of each kind is read; ``tag_counts`` (keyed by the literal tag, e.g. ``"</think>"``) shows
    whether there were more.
    """

    think: str | None = None
    calls: list[dict[str, Any]] | None = field(default_factory=list)
    response: str | None = None
    tag_counts: dict[str, int] = field(default_factory=dict)

    def has_block(self, tag: str) -> bool:
        """Whether the completion opens the block ``tag`` (``think``, ``tool_call``, ``response``)."""
        return self.tag_counts.get(f"<{tag}>", 0) > 0


@dataclass(frozen=True)
class RewardBreakdown:
    """The two parts of the ToolRL reward and their sum."""

    format: float
    correctness: float
    total: float


def _dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept as is (the form the pipeline writes everywhere)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parse_completion(text: str) -> ParsedCompletion:
    """Split a completion into its think text, tool calls and response."""
    counts = {tag: text.count(tag) for name in BLOCK_TAGS for tag in (f"<{name}>", f"</{name}>")}
    think = _block(text, "think")
    tool_block = _block(text, "tool_call")
    calls = [] if tool_block is None else _parse_calls(tool_block)
    return ParsedCompletion(think=think, calls=calls, response=_block(text, "response"), tag_counts=counts)


def _block(text: str, tag: str) -> str | None:
    match = re.search(f"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
    return match.group(1).strip() if match else None


def _parse_calls(block: str) -> list[dict[str, Any]] | None:
    calls = []
    # "\n" only: str.splitlines also breaks at U+0085, U+2028 and the like, which JSON leaves
    # unescaped inside strings (a value holding one would split its call in two).
    for line in block.split("\n"):
        if not line.strip():
            continue
        try:
            call = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        parameters = call.get("parameters", {})
        if not isinstance(parameters, dict) or _too_deep(parameters):
            return None
        calls.append({"name": call["name"], "parameters": parameters})
    return calls


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists/objects more than ``limit`` deep (comparing such values
    recursively would overflow the stack; no tool takes them)."""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [inner for item in level if isinstance(item, (dict, list))
                 for inner in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return False
    return True


def format_reward(text: str, reference: str | ParsedCompletion) -> float:
    """1.0 when ``text`` has ``<think>`` and exactly the blocks ``reference`` has, each once, in order."""
    reference = reference if isinstance(reference, ParsedCompletion) else parse_completion(reference)
    wanted = [tag for tag in BLOCK_TAGS if tag == "think" or reference.has_block(tag)]
    for tag in BLOCK_TAGS:
        times = 1 if tag in wanted else 0
        if text.count(f"<{tag}>") != times or text.count(f"</{tag}>") != times:
            return 0.0
    # With every tag present exactly once, the pattern's lazy bodies cannot swallow another block.
    layout = r"\s*".join(f"<{tag}>.*?</{tag}>" for tag in wanted)
    return 1.0 if re.fullmatch(rf"\s*{layout}\s*", text, flags=re.DOTALL) else 0.0


def correctness_reward(
    predicted_calls: Sequence[Mapping[str, Any]] | None,
    reference_calls: Sequence[Mapping[str, Any]],
    *,
    predicted_response: str | None = None,
    reference_response: str | None = None,
) -> float:
    """ToolRL's call correctness in [-3, 3]; ``None`` means the completion's calls did not parse.

    Calls are ``{"name", "parameters"}`` dicts (``"arguments"`` is read when ``"parameters"`` is
    absent, so the pipeline's own call dicts work too). With a ``reference_response`` the answer
    counts as one more item (see the module docstring): a missing or blank
    ``predicted_response`` scores -3.
    """
    if predicted_calls is None:
        return MIN_CORRECTNESS
    answer: float | None = None
    if reference_response is not None:
        if predicted_response is None or (reference_response.strip() and not predicted_response.strip()):
            return MIN_CORRECTNESS
        answer = answer_similarity(predicted_response, reference_response)
    predicted = [(call["name"], _parameters(call)) for call in predicted_calls]
    reference = [(call["name"], _parameters(call)) for call in reference_calls]
    calls_equal = Counter(_call_key(call) for call in predicted) == Counter(_call_key(call) for call in reference)
    if calls_equal and answer in (None, 1.0):
        return MAX_CORRECTNESS
    score = jaccard([name for name, _ in predicted], [name for name, _ in reference])
    unused = list(range(len(predicted)))
    for name, ref_params in reference:
        candidates = [index for index in unused if predicted[index][0] == name]
        if not candidates:
            continue
        scores = {index: _params_score(predicted[index][1], ref_params) for index in candidates}
        best = max(candidates, key=lambda index: scores[index])  # ties: the earliest prediction
        unused.remove(best)
        score += scores[best]
    max_score = 1 + sum(1 + len(params) for _, params in reference)
    if answer is not None:
        score += answer
        max_score += 1
    scaled = (MAX_CORRECTNESS - MIN_CORRECTNESS) * score / max_score + MIN_CORRECTNESS
    return min(MAX_CORRECTNESS, max(MIN_CORRECTNESS, scaled))  # rounding never leaves the range


def answer_similarity(predicted: str, reference: str) -> float:
    """Token F1 of two answers in [0, 1]: lower-cased word tokens as multisets (SQuAD's answer
    score); 1.0 when neither has a word."""
    got, want = Counter(_WORD.findall(predicted.lower())), Counter(_WORD.findall(reference.lower()))
    if not got or not want:
        return 1.0 if got == want else 0.0
    common = sum((got & want).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def _params_score(predicted: Mapping[str, Any], reference: Mapping[str, Any]) -> float:
    equal_values = sum(1 for key, value in reference.items()
                       if key in predicted and _freeze(predicted[key]) == _freeze(value))
    return jaccard(list(predicted), list(reference)) + equal_values


def _parameters(call: Mapping[str, Any]) -> dict[str, Any]:
    parameters = call["parameters"] if "parameters" in call else call.get("arguments")
    return dict(parameters or {})


def jaccard(left: Iterable[Hashable], right: Iterable[Hashable]) -> float:
    """Multiset Jaccard similarity ``|A∩B| / |A∪B|``; 1.0 for two empty multisets."""
    a, b = Counter(left), Counter(right)
    union = sum((a | b).values())
    return 1.0 if union == 0 else sum((a & b).values()) / union


def _call_key(call: tuple[str, dict[str, Any]]) -> Hashable:
    return call[0], _freeze(call[1])


def _freeze(value: Any) -> Hashable:
    """A hashable form in which equal JSON values are equal: 1 and 1.0 alike, True and 1 not."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, Mapping):
        return ("object", frozenset((key, _freeze(inner)) for key, inner in value.items()))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_freeze(item) for item in value))
    return ("other", repr(value))


def toolrl_reward(completion_text: str, ground_truth: str) -> RewardBreakdown:
    """Format plus correctness of a completion against the reference completion text.

    Raises ``ValueError`` when the ground truth's own calls do not parse: that is a bad row, and
    scoring it would teach the policy noise.
    """
    reference = parse_completion(ground_truth)
    if reference.calls is None:
        raise ValueError(f"ground truth has a tool_call line that is not a call: {ground_truth!r}")
    completion = parse_completion(completion_text)
    format_score = format_reward(completion_text, reference)
    correctness = correctness_reward(completion.calls, reference.calls,
                                     predicted_response=completion.response, reference_response=reference.response)
    return RewardBreakdown(format=format_score, correctness=correctness, total=format_score + correctness)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl's custom reward function: the total ToolRL reward of ``solution_str``, in [-3, 4].

    ``kwargs`` takes what verl's reward managers add (``reward_router_address``,
    ``reward_model_tokenizer``, the config's ``reward_kwargs``); the rule reward needs none of it.
    """
    return toolrl_reward(solution_str, ground_truth).total


def render_reference(
    thought: str | None,
    calls: Sequence[Mapping[str, Any]] | None,
    response: str | None,
) -> str:
    """The canonical ground-truth completion: think, then the calls one per line, then the response.

    Calls are ``{"name", "parameters"}`` or ``{"name", "arguments"}`` dicts. At least one of
    ``calls`` and ``response`` must be given, since the format has no completion without either.
    """
    if not calls and response is None:
        raise ValueError("a reference needs tool calls, a response, or both")
    parts = [f"<think>{thought or ''}</think>"]
    if calls:
        lines = [_dumps({"name": call["name"], "parameters": _parameters(call)}) for call in calls]
        parts.append("<tool_call>\n" + "\n".join(lines) + "\n</tool_call>")
    if response is not None:
        parts.append(f"<response>{response}</response>")
    return "\n".join(parts)


def format_tools_for_prompt(tools: Iterable[Mapping[str, Any]]) -> str:
    """The tools as one JSON function object per line, for the system prompt; OpenAI tools
    (``{"type": "function", "function": {...}}``) are unwrapped."""
    functions = (tool["function"] if isinstance(tool.get("function"), Mapping) else tool for tool in tools)
    return "\n".join(_dumps(dict(function)) for function in functions)


def toolrl_system_message(tools: Iterable[Mapping[str, Any]]) -> str:
    """:data:`TOOLRL_SYSTEM_PROMPT` followed by the tools."""
    return f"{TOOLRL_SYSTEM_PROMPT}\n{format_tools_for_prompt(tools)}"
