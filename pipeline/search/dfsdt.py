"""DFSDT: ToolBench's depth-first search-based decision tree (``toolbench/inference/Algorithms/DFS.py``,
``DFS_woFilter_w2``), over a :class:`~pipeline.llm.types.ChatModel` policy and an environment.

One model reply is one step: an optional thought (the reply's text) and one function call. The
call runs in the environment and its observation, cut to ``observation_chars`` (ToolBench:
1,024), comes back as a ``tool`` message. How the search goes:

* **Depth first.** Expanding a node asks the policy for one step given the messages of the path
  to it; the new child is searched before any sibling. A node gets at most ``width`` children
  (ToolBench's default 2); parse-error children count.
* **Depth limit.** ``max_depth`` is the most steps on one path, ``Finish`` included (a call node
  at depth ``max_depth`` is a dead end, pruned). ToolBench limits a path to 12 *tree nodes* where
  each step makes Thought → Action → Action Input nodes (Thought only when the reply has text),
  so 4 to 6 calls; here a step is one node and the default, 6, is the upper end of that range.
* **Parse errors.** A reply with no function call, or whose arguments are not a JSON object
  (empty text counts as ``{}``), makes a ``parse_error`` child: pruned, never expanded. A reply
  with several calls keeps the first (ToolBench's models make one ``function_call``).
* **Unknown function names** are answered with ToolBench's error observation
  ``No such function name: <name>`` and the child is kept (the model may recover from it).
* **Finish.** ``give_answer`` with a non-empty ``final_answer`` ends the search: success.
  ``give_up_and_restart`` prunes the child *and its parent*: the search unwinds one level
  further and continues at the grandparent with a new sibling of the parent (ToolBench's
  ``prune_back_length = 2``). Departure: the root is never abandoned, so a give-up at depth 1
  only uses one of the root's ``width`` children (in ToolBench it ends the whole search). A
  malformed ``Finish`` (no or unknown ``return_type``, ``give_answer`` with no answer) gets an
  error observation and is kept, like a bad call.
* **Diversity prompt.** Re-expanding a node that has children already adds, to that request only,
  ToolBench's user message listing each earlier child's ``{name, arguments, function_output}``
  (and the node's own observation) and asking for a different action.
* **Budgets.** ``max_model_calls`` (ToolBench: 200 per query) and ``max_api_calls`` are checked
  before each model call; when one is spent the search stops with a failed trajectory.
* **Failure.** A search with no answer returns ``finish_type="give_up"``, no final answer, and the
  longest path (the earliest among equals) as its chosen path, ``succeeded=False``. ToolBench
  saves a random give-up path as training data; here the trajectory says plainly it failed.

``sample_index`` of each request is the index of the child being made, so a deterministic or
cached policy can answer differently when a node is expanded again.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from pipeline.env.observation import Observation, error_observation
from pipeline.io import loads
from pipeline.llm.types import ChatModel, ChatReply, ChatRequest, ModelError, is_context_overflow
from pipeline.search.functions import FINISH_NAME, FunctionCatalog
from pipeline.search.tree import NodeStatus, SearchCounts, SearchNode, SearchTree, Trajectory
from pipeline.tool_schema import model_tools

DIVERSITY_PROMPT = (
    "This is not the first time you try this task, all previous trails failed.\n"
    "Before you generate my thought for this state, I will first show you your previous actions "
    "for this state, and then you must generate actions that is different from all of them. Here "
    "are some previous actions candidates:\n"
    "{previous_candidate}\n"
    "Remember you are now in the intermediate state of a trail, you will first analyze the now "
    "state and previous action candidates, then make actions that is different from all the previous."
)
GIVE_UP_RESPONSE = "chose to give up and restart"
ANSWER_RESPONSE = "successfully giving the final answer."


class ToolEnvironment(Protocol):
    async def call(
        self, tool_id: str, api_id: str, arguments: Any, *, client_id: str | None = None
    ) -> Observation: ...


def user_message(query: str) -> dict[str, Any]:
    """ToolBench's first user message (``FORMAT_INSTRUCTIONS_USER_FUNCTION``)."""
    return {"role": "user", "content": f"\n{query}\nBegin!\n"}


MAX_ARGUMENT_DEPTH = 64  # as deep as canonical arguments (the cache key) go


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` lists/objects (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


class _Stop(Exception):
    """A budget ran out or the answer was found: unwind the whole search."""


class _ContextOverflow(Exception):
    """The path to a node no longer fits the policy's context, even with shorter observations:
    the node is a dead end (its siblings may be shorter)."""


SHORT_OBSERVATION_CHARS = 256
"""Observations are cut to this (or a quarter of ``observation_chars``, if longer) for a second
try when the server says a prompt is over the model's context."""


class SearchBase:
    """What DFSDT and ReACT share: expanding one node, the messages of a path, the trajectory."""

    algorithm = "search"

    def __init__(
        self,
        policy: ChatModel,
        environment: ToolEnvironment,
        catalog: FunctionCatalog,
        *,
        width: int = 2,
        max_depth: int = 6,
        max_model_calls: int = 200,
        max_api_calls: int | None = None,
        observation_chars: int = 1024,
        client_id: str | None = None,
        temperature: float = 1.0,
    ) -> None:
        if width < 1 or max_depth < 1 or max_model_calls < 1:
            raise ValueError("width, max_depth and max_model_calls must be at least 1")
        self.policy = policy
        self.environment = environment
        self.catalog = catalog
        self.width = width
        self.max_depth = max_depth
        self.max_model_calls = max_model_calls
        self.max_api_calls = max_api_calls
        self.observation_chars = observation_chars
        self.client_id = client_id
        self.temperature = temperature

    async def run(self, query: str, query_id: Any = None) -> Trajectory:
        """Search for an answer to ``query``: the whole tree and the chosen path."""
        raise NotImplementedError

    # --- one search's state ----------------------------------------------------------------------

    def _start(self, query: str) -> None:
        self.tree = SearchTree.new()
        self.counts = SearchCounts()
        self.query = query
        self.answer_node: SearchNode | None = None
        self.stop_reason = ""
        self._tools = self.catalog.tools()  # ToolBench's form, kept in the trajectory
        self._sent_tools = model_tools(self._tools)  # JSON Schema only, as servers take it
        self._head = [{"role": "system", "content": self.catalog.system_prompt()}, user_message(query)]
        self._ids: set[str] = set()

    def _check_budget(self) -> None:
        if self.counts.model_calls >= self.max_model_calls:
            self.stop_reason = "model_budget"
            raise _Stop
        if self.max_api_calls is not None and self.counts.api_calls >= self.max_api_calls:
            self.stop_reason = "api_budget"
            raise _Stop

    # --- messages ---------------------------------------------------------------------------------

    def messages_to(self, node: SearchNode, *, final: bool = False) -> list[dict[str, Any]]:
        """The chat of the path to ``node``: system, user, then per step an assistant message with
        one ``tool_calls`` entry and its ``tool`` message. With ``final``, a last ``Finish`` step
        has no tool message (ToolBench's training data ends with the Finish call)."""
        messages = [dict(m) for m in self._head]
        path = [n for n in self.tree.path_to(node) if n.kind != "root"]
        for k, step in enumerate(path):
            messages.append(
                {
                    "role": "assistant",
                    "content": step.thought,
                    "tool_calls": [
                        {
                            "id": step.tool_call_id,
                            "type": "function",
                            "function": {"name": step.name, "arguments": step.raw_arguments or ""},
                        }
                    ],
                }
            )
            if final and k == len(path) - 1 and step.kind == "finish":
                break
            messages.append(
                {"role": "tool", "tool_call_id": step.tool_call_id, "content": step.observation_text or ""}
            )
        return messages

    def diversity_message(self, node: SearchNode) -> dict[str, Any] | None:
        """ToolBench's re-expansion prompt, when ``node`` has children that made an action."""
        earlier = [
            {"name": c.name, "arguments": c.raw_arguments, "function_output": c.observation_text}
            for c in (self.tree.node(i) for i in node.children)
            if c.status != "parse_error" and c.name is not None
        ]
        if not earlier:
            return None
        described = json.dumps(earlier, indent=2, ensure_ascii=False) + "\n"
        if node.observation_text:
            described += f"again, your former observation: {node.observation_text}\n"
        return {"role": "user", "content": DIVERSITY_PROMPT.replace("{previous_candidate}", described)}

    # --- one step ---------------------------------------------------------------------------------

    async def expand(self, node: SearchNode, sample_index: int, *, diversity: bool = True) -> SearchNode:
        """Ask the policy for one step after ``node``; add and return the child (its call run)."""
        self._check_budget()
        messages = self.messages_to(node)
        extra = self.diversity_message(node) if diversity and node.children else None
        if extra is not None:
            messages.append(extra)
        request = ChatRequest(
            role="policy",
            messages=messages,
            tools=self._sent_tools,
            temperature=self.temperature,
            sample_index=sample_index,
        )
        reply = await self._ask(request)
        self.counts.model_calls += 1
        self.counts.prompt_tokens += reply.usage.prompt_tokens
        self.counts.completion_tokens += reply.usage.completion_tokens
        return await self._child_from(node, reply, sample_index)

    async def _ask(self, request: ChatRequest) -> ChatReply:
        """The policy's reply; over its context, one more try with shorter observations, then
        :class:`_ContextOverflow` (a dead end for the search, not a failure of the query)."""
        try:
            return await self.policy.chat(request)
        except ModelError as error:
            if not is_context_overflow(error):
                raise
            self.counts.context_overflows += 1
            shorter = self._with_short_observations(request.messages)
            if shorter is None:
                raise _ContextOverflow(str(error)) from None
        try:
            return await self.policy.chat(request.model_copy(update={"messages": shorter}))
        except ModelError as error:
            if not is_context_overflow(error):
                raise
            self.counts.context_overflows += 1
            raise _ContextOverflow(str(error)) from None

    def _with_short_observations(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """``messages`` with every tool result cut shorter, or None if none was long."""
        limit = max(SHORT_OBSERVATION_CHARS, self.observation_chars // 4)
        cut = False
        shorter: list[dict[str, Any]] = []
        for message in messages:
            content = message.get("content")
            if message.get("role") == "tool" and isinstance(content, str) and len(content) > limit:
                message = {**message, "content": content[:limit] + "...(cut: the prompt was over the model's context)"}
                cut = True
            shorter.append(message)
        return shorter if cut else None

    def _call_id(self, proposed: str, node_id: int) -> str:
        call_id = proposed if proposed and proposed not in self._ids else f"call_{node_id}"
        while call_id in self._ids:
            call_id += "_"
        self._ids.add(call_id)
        return call_id

    async def _child_from(self, node: SearchNode, reply: ChatReply, sample_index: int) -> SearchNode:
        fields: dict[str, Any] = {
            "thought": reply.content,
            "sample_index": sample_index,
            "model_call": self.counts.model_calls,
        }
        if not reply.tool_calls:
            return self.tree.add(
                node, kind="call", status="parse_error", detail="the reply has no function call", **fields
            )
        call = reply.tool_calls[0]
        kind = "finish" if call.name == FINISH_NAME else "call"
        fields.update(name=call.name, raw_arguments=call.arguments)
        try:
            parsed = loads(call.arguments) if call.arguments.strip() else {}
        except (ValueError, RecursionError) as error:  # RecursionError: nested past what Python reads
            parsed, problem = None, f"arguments are not JSON: {error}"
        else:
            problem = "arguments are not a JSON object"  # reported only if it is not one
        if isinstance(parsed, dict) and _deeper_than(parsed, MAX_ARGUMENT_DEPTH):
            # the tree must stay writable (JSON writers stop at 255 levels); no API takes this
            parsed, problem = None, f"arguments are nested deeper than {MAX_ARGUMENT_DEPTH} levels"
        if not isinstance(parsed, dict):
            return self.tree.add(node, kind=kind, status="parse_error", detail=problem, **fields)
        child = self.tree.add(node, kind=kind, arguments=parsed, **fields)
        child.tool_call_id = self._call_id(call.id, child.id)
        if kind == "finish":
            self._finish(child, parsed)
        else:
            await self._run(child, parsed)
        return child

    def _finish(self, child: SearchNode, arguments: dict[str, Any]) -> None:
        return_type = arguments.get("return_type")
        answer = arguments.get("final_answer")
        if return_type == "give_up_and_restart":
            self._observe(child, {"error": "", "response": GIVE_UP_RESPONSE}, status="give_up")
        elif return_type == "give_answer" and isinstance(answer, str) and answer.strip():
            self._observe(child, {"error": "", "response": ANSWER_RESPONSE}, status="answer")
            self.answer_node = child
        elif return_type == "give_answer":
            self._observe(
                child,
                {"error": 'must have "final_answer" key in the arguments', "response": ""},
                status="error",
            )
        else:
            self._observe(
                child,
                {"error": 'must have "return_type" key in the arguments', "response": ""},
                status="error",
            )

    def _observe(self, child: SearchNode, observation: dict[str, Any], *, status: NodeStatus) -> None:
        child.observation = observation
        child.observation_text = Observation(
            error=observation["error"], response=observation["response"]
        ).for_model(self.observation_chars)
        child.status = status

    async def _run(self, child: SearchNode, arguments: dict[str, Any]) -> None:
        assert child.name is not None
        target = self.catalog.resolve(child.name)
        if target is None:
            observation = error_observation(f"No such function name: {child.name}")
        else:
            child.tool_id, child.api_id = target
            api_arguments = self.catalog.to_api_arguments(child.name, arguments)
            self.counts.api_calls += 1
            observation = await self.environment.call(
                child.tool_id, child.api_id, api_arguments, client_id=self.client_id
            )
            if observation.cached:
                self.counts.cache_hits += 1
        child.observation = observation.model_dump(mode="json")
        child.observation_text = observation.for_model(self.observation_chars)
        child.status = "ok" if observation.ok else "error"

    # --- the result -------------------------------------------------------------------------------

    def trajectory(self, query_id: Any, started: float) -> Trajectory:
        self.counts.nodes = len(self.tree.nodes)
        self.counts.wall_seconds = time.perf_counter() - started
        end = self.answer_node or self.tree.deepest()
        success = self.answer_node is not None
        return Trajectory(
            query=self.query,
            query_id=query_id,
            algorithm=self.algorithm,
            finish_type="give_answer" if success else "give_up",
            final_answer=(end.arguments or {}).get("final_answer") if success else None,
            succeeded=success,
            stop_reason="answer" if success else (self.stop_reason or "exhausted"),
            tree=self.tree.as_dict(),
            chosen_path=[n.id for n in self.tree.path_to(end)],
            messages=self.messages_to(end, final=True),
            tools=self._tools,
            counts=self.counts.model_copy(),
        )


class DFSDTSearch(SearchBase):
    """Depth-first search-based decision tree over one query (see the module doc)."""

    algorithm = "dfsdt"

    async def run(self, query: str, query_id: Any = None) -> Trajectory:
        started = time.perf_counter()
        self._start(query)
        try:
            await self._dfs(self.tree.node(self.tree.root))
        except _Stop:
            pass
        return self.trajectory(query_id, started)

    async def _dfs(self, node: SearchNode) -> None:
        """Search below ``node``; returns when its subtree is spent (or it must be abandoned).

        Raises :class:`_Stop` on an answer or a spent budget. Returning normally sends the
        search back to ``node``'s parent, which tries a new child if its width allows.
        """
        if node.kind != "root" and node.depth >= self.max_depth:
            node.status, node.detail = "pruned", "depth limit"
            return
        came_back = False
        while len(node.children) < self.width:
            if came_back:
                self.counts.backtracks += 1
            try:
                child = await self.expand(node, sample_index=len(node.children))
            except _ContextOverflow as overflow:
                if node.kind == "root":  # the query and its tools alone do not fit: settled, with why
                    self.stop_reason = "context_overflow"
                    raise _Stop from None
                node.status, node.detail = "pruned", f"context overflow: {overflow}"[:300]
                return
            if child.status == "answer":
                self.stop_reason = "answer"
                raise _Stop
            if child.status == "parse_error":
                came_back = False
                continue
            came_back = True
            if child.status == "give_up":
                if node.kind == "root":
                    continue
                node.status, node.detail = "pruned", f"its child {child.id} gave up and restarted"
                return
            await self._dfs(child)
