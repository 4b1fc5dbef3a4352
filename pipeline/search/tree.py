"""The search tree DFSDT / ReACT build, and the :class:`Trajectory` a search returns.

One node is one model step: a function call (``kind="call"``), a ``Finish`` call
(``kind="finish"``) or the root (the system + user messages). ToolBench splits a step into
Thought → Action → Action Input nodes; here the three are one node, so ``depth`` counts steps.

Statuses:

* ``ok`` / ``error`` – a call that ran; ``error`` when its observation carries an error (an API
  error, an invalid argument, an unknown function name, a malformed ``Finish``). Both can be
  expanded further.
* ``parse_error`` – the reply had no function call or its arguments were not a JSON object;
  pruned at once (never expanded), it still counts against the parent's width.
* ``give_up`` – ``Finish(give_up_and_restart)``; pruned, and its parent is pruned with it.
* ``answer`` – ``Finish(give_answer)`` with a non-empty answer; the search ends here.
* ``pruned`` – a call node abandoned: it reached the depth limit, or a child gave up.
  ``observation`` still says whether the call itself succeeded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NodeKind = Literal["root", "call", "finish"]
NodeStatus = Literal["ok", "error", "pruned", "give_up", "answer", "parse_error"]
FinishType = Literal["give_answer", "give_up"]


class SearchNode(BaseModel):
    id: int
    parent: int | None = None
    depth: int = 0  # root 0; a step's node is one deeper than its parent
    kind: NodeKind = "call"
    thought: str | None = None  # the reply's text content
    name: str | None = None  # the function name as the model sent it
    raw_arguments: str | None = None  # the arguments text exactly as sent
    arguments: dict[str, Any] | None = None  # parsed, when the text is a JSON object
    tool_call_id: str | None = None
    tool_id: str | None = None
    api_id: str | None = None
    observation: dict[str, Any] | None = None  # the whole Observation (model_dump)
    observation_text: str | None = None  # what the model saw in the tool message
    status: NodeStatus = "ok"
    children: list[int] = Field(default_factory=list)
    sample_index: int = 0  # the child's index under its parent (the ChatRequest's sample_index)
    model_call: int | None = None  # which model call (1-based) made this node
    detail: str | None = None  # why a node was pruned / failed to parse

    @property
    def call_ok(self) -> bool:
        return self.observation is not None and not self.observation.get("error")


class SearchTree(BaseModel):
    nodes: dict[int, SearchNode] = Field(default_factory=dict)
    root: int = 0

    @classmethod
    def new(cls) -> SearchTree:
        tree = cls()
        tree.nodes[0] = SearchNode(id=0, kind="root", depth=0, status="ok")
        return tree

    def add(self, parent: SearchNode, **fields: Any) -> SearchNode:
        node = SearchNode(id=len(self.nodes), parent=parent.id, depth=parent.depth + 1, **fields)
        self.nodes[node.id] = node
        parent.children.append(node.id)
        return node

    def node(self, node_id: int) -> SearchNode:
        return self.nodes[node_id]

    def path_to(self, node: SearchNode | int) -> list[SearchNode]:
        """Root first, ``node`` last."""
        current = self.nodes[node if isinstance(node, int) else node.id]
        path = [current]
        while current.parent is not None:
            current = self.nodes[current.parent]
            path.append(current)
        return path[::-1]

    def deepest(self) -> SearchNode:
        """The last node of the longest path (earliest made among equals) – a failed search's
        chosen path. Parse-error nodes are skipped (they carry no call)."""
        candidates = [n for n in self.nodes.values() if n.status != "parse_error"]
        return max(candidates, key=lambda n: (n.depth, -n.id))

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable: ``{"root": 0, "nodes": [...]}`` (nodes in creation order)."""
        return {
            "root": self.root,
            "nodes": [self.nodes[i].model_dump(mode="json") for i in sorted(self.nodes)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchTree:
        """The inverse of :meth:`as_dict` (a trajectory record's ``tree``); ``{}`` is an empty tree."""
        nodes = [SearchNode.model_validate(node) for node in data.get("nodes") or ()]
        return cls(nodes={node.id: node for node in nodes}, root=int(data.get("root") or 0))


class SearchCounts(BaseModel):
    # A figure a newer search adds survives a pass through this version (see pipeline.records).
    model_config = ConfigDict(extra="allow")

    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    api_calls: int = 0  # calls sent to the environment (Finish and unknown names are not)
    cache_hits: int = 0  # observations the environment answered from its response cache
    wall_seconds: float = 0.0
    backtracks: int = 0  # times the search left a finished subtree to try a new sibling higher up
    nodes: int = 0  # nodes of the tree, root included
    restarts: int = 0  # ReACT: chains started after the first
    # policy prompts the server refused as longer than the model takes; left out of a line while
    # 0, so a trajectory written before the figure existed is written back as it was
    context_overflows: int = Field(default=0, exclude_if=lambda count: count == 0)


class Trajectory(BaseModel):
    query: str
    query_id: str | int | None = None
    algorithm: str = "dfsdt"
    finish_type: FinishType = "give_up"
    final_answer: str | None = None
    succeeded: bool = False
    stop_reason: str = ""  # answer | exhausted | model_budget | api_budget | context_overflow
    tree: dict[str, Any] = Field(default_factory=dict)  # SearchTree.as_dict()
    chosen_path: list[int] = Field(default_factory=list)  # node ids, root first
    messages: list[dict[str, Any]] = Field(default_factory=list)  # the chosen path as OpenAI chat
    tools: list[dict[str, Any]] = Field(default_factory=list)  # the OpenAI tools the model saw
    counts: SearchCounts = Field(default_factory=SearchCounts)
