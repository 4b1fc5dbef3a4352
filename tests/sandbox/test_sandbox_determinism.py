"""Same seed, same answers; another seed, other data on the same ids, so the documented
examples keep working whatever seed a run uses."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from pipeline.env.sandbox import SandboxServer, load_tool_specs, start_sandbox
from pipeline.env.sandbox.examples import example_request

SPECS = load_tool_specs()


async def _call_every_example(server: SandboxServer, *, reads_only: bool) -> dict[str, tuple[int, Any]]:
    """Every operation's answer to its examples; deletes last, so no later call needs a deleted id."""
    answers = {}
    async with aiohttp.ClientSession() as session:
        for spec in SPECS:
            ops = [op for op in spec.operations if op.method == "GET" or not reads_only]
            for op in sorted(ops, key=lambda op: op.method == "DELETE"):
                request = example_request(spec, op)
                async with session.request(
                    request.method,
                    server.tool_url(spec.slug) + request.path,
                    params=request.query,
                    headers=request.headers,
                    json=request.body,
                ) as response:
                    answers[op.operation_id] = (response.status, await response.json())
    return answers


async def _answers(seed: int, *, reads_only: bool = True) -> dict[str, tuple[int, Any]]:
    server = await start_sandbox(seed=seed, rate_limit_per_minute=None)
    async with server:
        return await _call_every_example(server, reads_only=reads_only)


@pytest.mark.asyncio
async def test_same_seed_gives_identical_responses() -> None:
    assert await _answers(3) == await _answers(3)


@pytest.mark.asyncio
async def test_another_seed_changes_generated_data_but_not_the_shared_world() -> None:
    first, second = await _answers(0), await _answers(1)
    changed = {name for name in first if first[name] != second[name]}
    generated = {
        "getForecast",
        "searchHotels",
        "getRoomOffers",
        "searchRestaurants",
        "getMenu",
        "getMovie",
        "listShowtimes",
        "getQuote",
        "getLatestRates",
        "searchProducts",
        "getStandings",
        "listMessages",
        "listEvents",
        "searchFlights",
        "getRecipe",
    }
    assert generated <= changed, sorted(generated - changed)
    # Real geography and the glossary are the same in every seed: ids mean the same city everywhere.
    assert {"getCity", "searchCities", "getCountry", "getDistance", "getPhrasebook"}.isdisjoint(changed)


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", [1, 7])
async def test_documented_examples_work_under_other_seeds(seed: int) -> None:
    answers = await _answers(seed, reads_only=False)
    failures = {name: answer for name, answer in answers.items() if not 200 <= answer[0] < 300}
    assert failures == {}
