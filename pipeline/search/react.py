"""ReACT: the single-chain baseline (ToolBench's ``CoT@1``; with restarts, ``CoT@n``).

One chain of steps from the root: each step is one model reply with one function call, run in the
environment like DFSDT's (same parsing, Finish handling, observations, budgets and outputs). A
chain ends at ``give_answer`` (success, the search stops), a ``give_up_and_restart``, a parse
error, or the depth limit; then, while ``restarts`` allow, a new chain starts at the root. There
is no diversity prompt: restarts are independent samples, told apart by ``sample_index`` (the
chain's number, used for every request of that chain, so a deterministic policy can take another
way). ``backtracks`` stays 0; ``counts.restarts`` counts the chains after the first.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.llm.types import ChatModel
from pipeline.search.dfsdt import SearchBase, ToolEnvironment, _ContextOverflow, _Stop
from pipeline.search.functions import FunctionCatalog
from pipeline.search.tree import Trajectory


class ReActSearch(SearchBase):
    algorithm = "react"

    def __init__(
        self,
        policy: ChatModel,
        environment: ToolEnvironment,
        catalog: FunctionCatalog,
        *,
        restarts: int = 0,
        max_depth: int = 6,
        max_model_calls: int = 200,
        max_api_calls: int | None = None,
        observation_chars: int = 1024,
        client_id: str | None = None,
        temperature: float = 1.0,
    ) -> None:
        if restarts < 0:
            raise ValueError("restarts must be at least 0")
        super().__init__(
            policy,
            environment,
            catalog,
            width=1,
            max_depth=max_depth,
            max_model_calls=max_model_calls,
            max_api_calls=max_api_calls,
            observation_chars=observation_chars,
            client_id=client_id,
            temperature=temperature,
        )
        self.restarts = restarts

    async def run(self, query: str, query_id: Any = None) -> Trajectory:
        started = time.perf_counter()
        self._start(query)
        root = self.tree.node(self.tree.root)
        try:
            for chain in range(self.restarts + 1):
                if chain:
                    self.counts.restarts += 1
                node = root
                while True:
                    if node.kind != "root" and node.depth >= self.max_depth:
                        node.status, node.detail = "pruned", "depth limit"
                        break
                    try:
                        child = await self.expand(node, sample_index=chain, diversity=False)
                    except _ContextOverflow as overflow:
                        if node.kind == "root":
                            self.stop_reason = "context_overflow"
                            raise _Stop from None
                        node.status, node.detail = "pruned", f"context overflow: {overflow}"[:300]
                        break
                    if child.status == "answer":
                        self.stop_reason = "answer"
                        raise _Stop
                    if child.status in ("parse_error", "give_up"):
                        break
                    node = child
        except _Stop:
            pass
        return self.trajectory(query_id, started)
