"""State and the response cache: each caller (client id) has its own world in the sandbox, and a
read is replayed only to a caller whose writes to that tool were the same — so a search's
answers depend on its own calls alone, also when a killed run resumes on a fresh sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pipeline.env.cache import ResponseCache
from pipeline.env.environment import Environment, open_environment
from pipeline.env.observation import Observation
from pipeline.env.sandbox import create_app
from pipeline.models import Tool
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import iter_tools
from pipeline.specs.collect import collect_catalog

REPO = Path(__file__).resolve().parents[2]
SHOP, GEO = "shop_lite_store", "city_atlas_geo"
PRODUCT = 10001
FIRST_FREE_CART = "cart-5004"  # the seeded state has carts 5001-5003


def settings_for(run_dir: Path) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, env={"sandbox": {"rate_limit_per_minute": None}})


@pytest.fixture(scope="module")
def sandbox_tools(tmp_path_factory: pytest.TempPathFactory) -> list[Tool]:
    run_dir = tmp_path_factory.mktemp("state") / "catalog-run"
    asyncio.run(collect_catalog([str(REPO / "api_specs" / "sandbox")], settings_for(run_dir), run_dir=run_dir))
    return list(iter_tools(run_dir))


def test_the_cache_keeps_one_answer_per_state_and_the_stateless_key_is_unchanged(tmp_path: Path) -> None:
    arguments = {"cart_id": FIRST_FREE_CART}
    with ResponseCache(tmp_path / "responses.sqlite") as cache:
        cache.put(SHOP, "get_cart", arguments, Observation(response={"items": 1}, status=200, mode="real"),
                  state="after-a")
        assert cache.get(SHOP, "get_cart", arguments) is None
        assert cache.get(SHOP, "get_cart", arguments, state="after-b") is None
        hit = cache.get(SHOP, "get_cart", arguments, state="after-a")
        cache.put(SHOP, "get_cart", arguments, Observation(response={"items": 0}, status=200, mode="real"))
        seeded = cache.get(SHOP, "get_cart", arguments)

    assert hit is not None and hit.response == {"items": 1}
    assert seeded is not None and seeded.response == {"items": 0}


async def fill_cart(env: Environment, client: str, quantity: int) -> tuple[Any, Any]:
    """Create a cart, put ``quantity`` of a product in it, read it back: (created, read)."""
    created = await env.call(SHOP, "create_cart", {}, client_id=client)
    cart_id = created.response["cart_id"]
    await env.call(SHOP, "add_cart_item", {"cart_id": cart_id, "product_id": PRODUCT, "quantity": quantity},
                   client_id=client)
    return created, await env.call(SHOP, "get_cart", {"cart_id": cart_id}, client_id=client)


async def test_each_client_has_its_own_world_and_a_read_after_writes_is_not_served_to_another(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path) as env:
        created_a, read_a = await fill_cart(env, "a", 1)
        created_b, read_b = await fill_cart(env, "b", 2)  # the same cart id, in b's own world
        created_c, read_c = await fill_cart(env, "c", 1)  # the same writes as a: a's answer is c's
        untouched = await env.call(SHOP, "get_cart", {"cart_id": FIRST_FREE_CART}, client_id="d")

    assert created_a.response["cart_id"] == created_b.response["cart_id"] == FIRST_FREE_CART
    assert [o.cached for o in (created_a, created_b, created_c)] == [False, False, False]  # writes: sent
    assert (read_a.cached, read_b.cached, read_c.cached) == (False, False, True)
    assert read_a.response["item_count"] == 1 and read_b.response["item_count"] == 2
    assert read_c.response == read_a.response
    # d wrote nothing: the cart does not exist in its world, whatever a, b and c made
    assert untouched.status == 404 and not untouched.cached


async def test_reads_that_follow_no_write_are_shared_by_every_client(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path) as env:
        cities = [await env.call(GEO, "search_cities", {"q": "Paris"}, client_id=c) for c in "abc"]
        products = [await env.call(SHOP, "get_product", {"product_id": PRODUCT}, client_id=c) for c in "ab"]
        await fill_cart(env, "a", 1)  # a's writes to the shop leave its reads of other tools shared
        after = await env.call(GEO, "search_cities", {"q": "Paris"}, client_id="a")
        stats = env.stats()

    assert [o.cached for o in cities] == [False, True, True]
    assert [o.cached for o in products] == [False, True]
    assert after.cached
    assert stats["cache_hits"] == 4


async def test_a_resumed_run_on_a_fresh_sandbox_gets_the_answers_of_an_uninterrupted_one(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    """The first run's client a filled a cart and client b checked out; both stop. A fresh
    sandbox over the same cache: b's search starts again (its writes run again) and must see its
    own cart, not a's, and the answers a first run would have given."""
    settings = settings_for(tmp_path)
    async with open_environment(sandbox_tools, settings, run_dir=tmp_path) as env:
        await fill_cart(env, "a", 3)
        _, first = await fill_cart(env, "b", 1)
    async with open_environment(sandbox_tools, settings, run_dir=tmp_path) as env:
        _, resumed = await fill_cart(env, "b", 1)
    async with open_environment(sandbox_tools, settings, run_dir=tmp_path / "uncached") as env:
        _, fresh = await fill_cart(env, "b", 1)

    assert resumed.cached and not fresh.cached
    assert resumed.response == fresh.response == first.response
    assert resumed.response["item_count"] == 1


async def test_a_sandbox_that_outlives_the_environment_shows_a_new_one_none_of_the_old_writes(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    runner = web.AppRunner(create_app(rate_limit_per_minute=None), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    answers = []
    try:
        for _ in range(2):
            async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path,
                                        sandbox_url=url) as env:
                answers.append(await fill_cart(env, "a", 1))
    finally:
        await runner.cleanup()

    (created, read), (created_again, read_again) = answers
    assert created.response["cart_id"] == created_again.response["cart_id"] == FIRST_FREE_CART
    assert read_again.cached and read_again.response == read.response


async def test_a_read_while_the_same_client_writes_to_that_tool_is_neither_replayed_nor_stored(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path) as env:
        await env.call(SHOP, "get_cart", {"cart_id": "cart-5001"}, client_id="a")  # stored: no write yet
        write = asyncio.ensure_future(env.call(SHOP, "create_cart", {}, client_id="a"))
        await asyncio.sleep(0)  # the write is in flight
        during = await env.call(SHOP, "get_cart", {"cart_id": "cart-5001"}, client_id="a")
        await write
        stats = env.stats()

    assert not during.cached
    assert stats["cache"]["writes"] == 1


async def test_a_read_during_which_the_same_client_starts_a_write_is_not_stored(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path) as env:
        read = asyncio.ensure_future(env.call(SHOP, "get_cart", {"cart_id": "cart-5001"}, client_id="a"))
        await asyncio.sleep(0)  # the read is in flight
        await env.call(SHOP, "create_cart", {}, client_id="a")
        during = await read
        stats = env.stats()

    assert during.ok and not during.cached
    assert stats["cache"]["writes"] == 0
