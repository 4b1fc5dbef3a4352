"""The HTTP retriever service: answers, micro-batching, refusals, health, binding and shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.retriever.service import (
    BATCHER_KEY,
    RequestRefused,
    create_app,
    parse_search_request,
    serve,
)
from pipeline.settings import RetrieverServeSettings, RetrieverSettings
from tests.retriever.fakes import RecordingBackend

SERVE = RetrieverServeSettings(max_k=20, max_batch=64, max_wait_ms=20, max_body_bytes=1024)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, RecordingBackend]]:
    backend = RecordingBackend(delay=0.02)
    server = TestServer(create_app(backend, SERVE, default_k=3), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")), backend
    finally:
        await server.close()


async def _post(session: aiohttp.ClientSession, url: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    data = orjson.dumps(body) if isinstance(body, (dict, list)) else body
    headers = kwargs.pop("headers", {"Content-Type": "application/json"})
    async with session.post(url + "/search", data=data, headers=headers, **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def test_concurrent_clients_each_get_their_own_answer_from_fewer_backend_calls(served: Any) -> None:
    url, backend = served
    clients = 24
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(
            _post(session, url, {"query": f"query number {n}", "k": 1 + n % 5}) for n in range(clients)))
    for n, (status, body) in enumerate(answers):
        assert status == 200, body
        results = body["results"]
        assert len(results) == 1 + n % 5  # each its own k, though the batch asked for the largest
        assert {hit["tool_name"] for hit in results} == {f"query number {n}"}
        assert [hit["api_name"] for hit in results] == [f"api{i}" for i in range(len(results))]  # best first
        assert set(results[0]) == {"tool_name", "api_name", "category", "score", "tool_id", "api_id"}
    assert sum(len(batch) for batch in backend.batches) == clients
    assert len(backend.batches) < clients
    assert max(len(batch) for batch in backend.batches) > 1
    assert backend.threads and "MainThread" not in backend.threads  # encoding is off the event loop


async def test_k_defaults_to_the_retriever_top_k(served: Any) -> None:
    url, _ = served
    async with aiohttp.ClientSession() as session:
        status, body = await _post(session, url, {"query": "weather in Paris"})
    assert status == 200
    assert len(body["results"]) == 3


@pytest.mark.parametrize(("body", "words"), [
    ({"k": 3}, "'query' is missing"),
    ({"query": "   ", "k": 3}, "'query' is empty"),
    ({"query": 42}, "'query' must be a string"),
    ({"query": ["a"]}, "'query' must be a string"),
    ({"query": "x", "k": "5"}, "'k' must be an integer"),
    ({"query": "x", "k": 2.5}, "'k' must be an integer"),
    ({"query": "x", "k": True}, "'k' must be an integer"),
    ({"query": "x", "k": 0}, "between 1 and 20, got 0"),
    ({"query": "x", "k": 21}, "between 1 and 20, got 21"),
    ({"query": "x", "top_k": 5}, "unknown field 'top_k'"),
    (b'{"query": "x",', "not valid JSON"),
    (b"", "empty body"),
    (b'["query"]', "must be a JSON object"),
    (b'"just text"', "must be a JSON object"),
])
async def test_bad_requests_get_a_400_naming_the_problem(served: Any, body: Any, words: str) -> None:
    url, backend = served
    async with aiohttp.ClientSession() as session:
        status, answer = await _post(session, url, body)
    assert status == 400
    assert words in answer["error"]
    assert backend.batches == []  # nothing bad reaches the index


async def test_a_body_that_is_not_json_by_its_content_type_is_refused(served: Any) -> None:
    url, _ = served
    async with aiohttp.ClientSession() as session:
        status, answer = await _post(session, url, "query=weather", headers={"Content-Type": "text/plain"})
        assert status == 400
        assert "text/plain" in answer["error"] and "application/json" in answer["error"]
        status, answer = await _post(session, url, b'{"query": "weather"}', headers={})
        assert status == 200  # raw bytes (octet-stream) are taken as JSON


async def test_a_body_over_the_limit_is_refused_with_413(served: Any) -> None:
    url, backend = served
    huge = orjson.dumps({"query": "x" * 5000})
    async with aiohttp.ClientSession() as session:
        status, answer = await _post(session, url, huge)
        assert status == 413
        assert "limit is 1024" in answer["error"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
            yield huge[:1000]
            yield huge[1000:]

        status, answer = await _post(session, url, chunks())
        assert status == 413
        assert "1024" in answer["error"]
    assert backend.batches == []


async def test_health_reports_the_backend_and_unknown_paths_answer_json(served: Any) -> None:
    url, _ = served
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/health") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok", "documents": 3, "model": "fake-encoder",
                                             "ranking": "dense"}
        async with session.get(url + "/nowhere") as response:
            assert response.status == 404
            assert "/nowhere" in (await response.json())["error"]
        async with session.get(url + "/search") as response:
            assert response.status == 405
            assert "error" in await response.json()


async def test_a_failing_search_answers_500_and_the_service_goes_on() -> None:
    backend = RecordingBackend(fail=True)
    server = TestServer(create_app(backend, SERVE), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url(""))
        async with aiohttp.ClientSession() as session:
            status, answer = await _post(session, url, {"query": "x"})
            assert status == 500
            assert "index is broken" in answer["error"]
            backend.fail = False
            status, answer = await _post(session, url, {"query": "x", "k": 2})
            assert status == 200
            assert len(answer["results"]) == 2
    finally:
        await server.close()


async def test_serve_binds_localhost_by_default_and_stops_gracefully() -> None:
    assert RetrieverSettings().serve.host == "127.0.0.1"
    backend = RecordingBackend(delay=0.2)
    app = create_app(backend, SERVE)
    stop = asyncio.Event()
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, SERVE.model_copy(update={"port": 0}), stop=stop,
                                     on_started=started.set_result))
    url = await asyncio.wait_for(started, 10)
    assert url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(_post(session, url, {"query": "late", "k": 1}))
        while not backend.batches:  # the search has started
            await asyncio.sleep(0.01)
        stop.set()
        status, answer = await in_flight  # a request in flight is answered before the service goes
        assert status == 200
        assert answer["results"][0]["tool_name"] == "late"
    await asyncio.wait_for(task, 10)
    assert app[BATCHER_KEY].stats.backend_calls == 1


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["query", "k", "other"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.text(max_size=8),
                                 st.floats(allow_nan=False), st.lists(st.integers(-99, 99), max_size=2))))
def test_any_object_is_either_a_valid_search_or_refused_with_a_message(data: dict[str, Any]) -> None:
    try:
        query, k = parse_search_request(orjson.dumps(data), default_k=5, max_k=20)
    except RequestRefused as refused:
        assert refused.status == 400 and refused.message
    else:
        assert query == data["query"].strip() and query
        assert 1 <= k <= 20
        assert set(data) <= {"query", "k"}


async def test_the_batch_hook_runs_in_the_search_thread_with_each_batch_size() -> None:
    backend = RecordingBackend(delay=0.05)
    seen: list[tuple[int, str]] = []
    app = create_app(backend, SERVE, before_batch=lambda size: seen.append((size, threading.current_thread().name)))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url(""))
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(_post(session, url, {"query": f"q{n}"}) for n in range(8)))
    finally:
        await server.close()
    assert [size for size, _ in seen] == [len(batch) for batch in backend.batches]
    assert {name for _, name in seen} == backend.threads
