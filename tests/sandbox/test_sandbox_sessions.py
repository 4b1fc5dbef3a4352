"""Each client (``X-Client-Id``) has its own world: its writes are visible to its own reads and
to no other client's, every client starts from the seeded state, and a client without an id
shares one anonymous world with the others without one."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from pipeline.env.sandbox import CLIENT_HEADER, SandboxServer, load_tool_specs, start_sandbox
from pipeline.env.sandbox.examples import example_request
from pipeline.env.sandbox.sessions import Worlds, fork
from pipeline.env.sandbox.tools import TOOLS, build_tool

SPECS = load_tool_specs()


async def _every_example(server: SandboxServer, client: str | None, *, reads_only: bool) -> dict[str, Any]:
    """Every operation's answer to its documented example, as ``client``; deletes last."""
    answers = {}
    headers = {CLIENT_HEADER: client} if client else {}
    async with aiohttp.ClientSession() as session:
        for spec in SPECS:
            ops = [op for op in spec.operations if op.method == "GET" or not reads_only]
            for op in sorted(ops, key=lambda op: op.method == "DELETE"):
                request = example_request(spec, op)
                async with session.request(
                    request.method, server.tool_url(spec.slug) + request.path, params=request.query,
                    headers={**request.headers, **headers}, json=request.body,
                ) as response:
                    answers[op.operation_id] = (response.status, await response.json())
    return answers


@pytest.mark.asyncio
async def test_one_clients_writes_change_no_other_clients_answers() -> None:
    async with await start_sandbox(rate_limit_per_minute=None) as server:
        before = await _every_example(server, "b", reads_only=True)
        writes = await _every_example(server, "a", reads_only=False)
        after = await _every_example(server, "b", reads_only=True)
        anonymous = await _every_example(server, None, reads_only=True)
        own = await _every_example(server, "a", reads_only=True)

    assert any(status == 201 for status, _ in writes.values())
    assert after == before == anonymous  # every tool's state is declared in its STATE
    assert own != before  # a sees what it wrote (and deleted)


@pytest.mark.asyncio
async def test_two_clients_doing_the_same_get_the_same_ids() -> None:
    async with await start_sandbox(rate_limit_per_minute=None) as server, aiohttp.ClientSession() as session:
        carts = []
        for client in ("a", "b", "a"):
            async with session.post(server.tool_url("shop") + "/carts", json={},
                                    headers={CLIENT_HEADER: client}) as response:
                carts.append((await response.json())["cart_id"])
        async with session.get(server.tool_url("shop") + f"/carts/{carts[2]}",
                               headers={CLIENT_HEADER: "b"}) as response:
            missing = response.status

    assert carts == ["cart-5004", "cart-5004", "cart-5005"]
    assert missing == 404  # b made one cart only


def test_a_fork_copies_the_declared_state_and_shares_the_rest() -> None:
    seeded = build_tool("shop", 0)
    clone = fork(seeded)
    clone.carts["cart-9999"] = {}
    assert "cart-9999" not in seeded.carts
    assert clone.products is not seeded.products  # checkout takes stock
    assert fork(build_tool("geo", 0)).__class__ is TOOLS["geo"]


def test_the_least_recently_seen_clients_world_is_dropped_beyond_the_limit() -> None:
    worlds = Worlds(["calendar"], 0, max_sessions=2)
    first = worlds.handler("a", "calendar", "createEvent")
    of_b = worlds.handler("b", "calendar", "createEvent")
    assert worlds.handler("a", "calendar", "createEvent") == first  # a is now the most recent
    worlds.handler("c", "calendar", "listEvents")  # b goes
    assert len(worlds) == 2
    assert worlds.handler("a", "calendar", "createEvent") == first
    assert worlds.handler("b", "calendar", "createEvent") != of_b  # b starts afresh
    with pytest.raises(ValueError):
        Worlds(["calendar"], 0, max_sessions=0)
