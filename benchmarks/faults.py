"""``toolgen run`` against an OpenAI-compatible server that fails 20% of the time (issue 13).

    python benchmarks/faults.py [--fault-rate 0.2] [--per-group 4] [--seed 1]

The model is :class:`~pipeline.llm.fake_server.FakeOpenAIServer` on 127.0.0.1. Its answers come
from toolgen's rule-based engines, so they make sense: the writer's from the offline instruction
writer, the policy's from the offline policy (native tool calls), the judge's a verdict read off
the final answer. On top, a share ``--fault-rate`` of requests is answered with one fault drawn
at random: 429 with Retry-After, 500, a hang past the client's timeout, a non-JSON body, or (for
the policy) broken tool-call arguments. The same pipeline runs twice, without and with faults,
each into a fresh run folder, with the real ``openai`` backend and its retries.

Figures, one per line per run: queries generated, answered (a trajectory with an answer), not
answered (a trajectory that gave up or ran out), lost (a query with no trajectory), accepted
samples, model requests the server saw, retries the client made, wall seconds. Target: 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.generate.offline_writer import OfflineInstructionWriter  # noqa: E402
from pipeline.llm.fake_server import (  # noqa: E402
    FakeOpenAIServer,
    Raw,
    Step,
    hang,
    http_error,
    rate_limited,
    text,
    tool_calls,
)
from pipeline.llm.offline_policy import OfflinePolicy  # noqa: E402
from pipeline.llm.types import ChatReply, ChatRequest  # noqa: E402
from pipeline.records import iter_accepted, iter_queries, iter_trajectories  # noqa: E402
from pipeline.run import run_pipeline  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402
from pipeline.verify.judge import JUDGE_SYSTEM_PROMPT  # noqa: E402

TIMEOUT_S = 2.0


class ImperfectModel:
    """``(request_json) -> step`` for the fake server: sensible answers, some of them faults."""

    def __init__(self, fault_rate: float, seed: int) -> None:
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.writer = OfflineInstructionWriter()
        self.policy = OfflinePolicy()
        self.faults: dict[str, int] = {}

    def _fault(self, is_policy: bool) -> Step | None:
        if self.rng.random() >= self.fault_rate:
            return None
        kinds = ["429", "500", "hang", "not json"] + (["broken arguments"] if is_policy else [])
        kind = self.rng.choice(kinds)
        self.faults[kind] = self.faults.get(kind, 0) + 1
        if kind == "429":
            return rate_limited(0.05)
        if kind == "500":
            return http_error(500, "internal error")
        if kind == "hang":
            return hang(TIMEOUT_S + 1)
        if kind == "not json":
            return Raw("<html><body>502 Bad Gateway</body></html>", status=200, content_type="text/html")
        return tool_calls(("Finish", '{"return_type": "give_answer", "final_answer": "unterminated'))

    async def __call__(self, body: dict[str, Any]) -> Step:
        messages = body["messages"]
        is_policy = bool(body.get("tools"))
        fault = self._fault(is_policy)
        if fault is not None:
            return fault
        if messages and messages[0].get("content") == JUDGE_SYSTEM_PROMPT:
            shown = str(messages[-1].get("content") or "")
            solved = "Final answer:" in shown and "Final answer: \n" not in shown
            status = "Solved" if solved else "Unsolved"
            return text(f'{{"answer_status": "{status}", "reason": "read off the final answer"}}')
        role = "policy" if is_policy else "writer"
        request = ChatRequest(role=role, messages=messages, tools=body.get("tools"),
                              temperature=body.get("temperature") or 0.0)
        reply: ChatReply = await (self.policy if is_policy else self.writer).chat(request)
        if reply.tool_calls:
            return tool_calls(*((call.name, call.arguments) for call in reply.tool_calls), content=reply.content)
        return text(reply.content or "")


async def one_run(fault_rate: float, per_group: int, seed: int, folder: Path) -> dict[str, Any]:
    model = ImperfectModel(fault_rate, seed)
    async with FakeOpenAIServer(model) as server:
        settings = load_settings(
            run_dir=folder,
            generate={"per_group": {"G1": per_group, "G2": per_group, "G3": per_group}},
            llm={"backend": "openai", "base_url": server.base_url, "api_key": "sk-fake", "timeout_s": TIMEOUT_S,
                 "retries": 4, "backoff_base_s": 0.05, "max_retry_after_s": 1.0, "concurrency": 16},
            verify={"votes": 1},
        )
        started = time.perf_counter()
        reports = await run_pipeline(settings)
        seconds = time.perf_counter() - started
        requests = len(server.chat_requests)
    queries = {(q.group, str(q.query_id)) for q in iter_queries(folder)}
    trajectories = {(t.group, str(t.query_id)): t for t in iter_trajectories(folder)}
    retries = sum(int(figures.get("retries") or 0)
                  for stage in ("generate", "annotate", "verify")
                  for figures in (getattr(reports[stage], "llm_usage", None) or {}).values())
    return {
        "queries generated": len(queries),
        "answered": sum(1 for t in trajectories.values() if t.succeeded),
        "not answered": sum(1 for t in trajectories.values() if not t.succeeded),
        "lost": len(queries - set(trajectories)),
        "accepted": sum(1 for _ in iter_accepted(folder)),
        "model requests (server)": requests,
        "retries (client)": retries,
        "faults injected": dict(sorted(model.faults.items())),
        "wall seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--per-group", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as scratch:
        # a small run first, not reported: imports and first-use costs would land on the first run
        asyncio.run(one_run(0.0, 1, args.seed, Path(scratch) / "warm-up"))
        for rate in (0.0, args.fault_rate):
            figures = asyncio.run(one_run(rate, args.per_group, args.seed, Path(scratch) / f"faults-{rate}"))
            print(f"--- fault rate {rate:.0%}")
            for name, value in figures.items():
                print(f"{name:<28} {value}")
            if rate and figures["lost"]:
                print("MISS: queries were lost")


if __name__ == "__main__":
    main()
