"""The retriever over HTTP (aiohttp): ``POST /search`` and ``GET /health``.

``POST /search`` takes ``{"query": "TEXT", "k": K}`` (``k`` optional: ``retriever.top_k``) and
answers :class:`~pipeline.retriever.hits.SearchResults`, best first. The backend (the index and
its encoder) is loaded once, by the caller, and shared by every request.

Concurrent requests are micro-batched: a request waits up to ``max_wait_ms`` for others (or until
``max_batch`` are queued), then the batch is answered by ONE ``backend.search`` call, run in a
worker thread so encoding never blocks the event loop. Encoding 16 queries at once costs little
more than one, which is where the throughput under concurrent clients comes from.

Every refused request gets a JSON ``{"error": "..."}`` saying what is wrong: 400 for a missing,
empty or non-text query, a ``k`` that is not an integer in ``1..max_k``, unknown fields, a body
that is not JSON or not an object, or a content type other than JSON; 413 for a body over
``max_body_bytes``; 404/405 for other paths and methods. A search that fails answers 500 with
the error, and the service goes on.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.retriever.hits import Hit, SearchBackend, SearchResults
from pipeline.settings import RetrieverServeSettings

log = logging.getLogger(__name__)

_JSON_TYPES = ("application/json", "text/json", "application/octet-stream")


class SearchRequest(BaseModel):
    """The body of ``POST /search``. Strict: ``"5"`` is not a ``k`` and ``true`` is not one either."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query: str
    k: int | None = None


class RequestRefused(Exception):
    """A request the service answers with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- micro-batching -----------------------------------------------------------------------------


@dataclass
class _Pending:
    query: str
    k: int
    answer: asyncio.Future[list[Hit]]


@dataclass
class BatchStats:
    """What the batcher did: the tests' and the benchmark's evidence that requests were batched."""

    requests: int = 0
    backend_calls: int = 0
    batch_sizes: list[int] = field(default_factory=list)  # the last 1000

    def add(self, size: int) -> None:
        self.requests += size
        self.backend_calls += 1
        self.batch_sizes = self.batch_sizes[-999:] + [size]


class MicroBatcher:
    """Collects queries for a few milliseconds and answers them with one ``backend.search`` call.

    The call runs in the batcher's own single worker thread: one encoder call at a time (the model
    is not made for parallel calls, and on a small machine they would only compete for the cores),
    while the event loop keeps accepting requests, which queue for the next batch.
    """

    def __init__(self, backend: SearchBackend, *, max_batch: int = 32, max_wait_ms: float = 5.0,
                 before_batch: Callable[[int], None] | None = None) -> None:
        self.backend = backend
        self.before_batch = before_batch  # called with the batch size in the worker thread, before the search
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retriever-search")
        self._worker = asyncio.create_task(self._run(), name="retriever-batcher")

    async def stop(self) -> None:
        """Stop taking batches; queries still queued are refused (the service is going away)."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._queue is not None:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.answer.done():
                    pending.answer.set_exception(RequestRefused("the service is shutting down", 503))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def search(self, query: str, k: int) -> list[Hit]:
        """The best ``k`` hits for ``query``, answered together with whatever else is queued."""
        if self._queue is None or self._worker is None:
            raise RequestRefused("the service is not running", 503)
        answer: asyncio.Future[list[Hit]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(query, k, answer))
        self._arrived.set()
        return await answer

    async def _collect(self, queue: asyncio.Queue[_Pending]) -> list[_Pending]:
        batch = [await queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            # Wait on the arrival signal, not on queue.get(): a get cancelled by the timeout
            # could swallow a request on Python 3.11.
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        # a client that went away needs no answer
        return [pending for pending in batch if not pending.answer.done()]

    def _search(self, queries: list[str], k: int) -> list[list[Hit]]:
        if self.before_batch is not None:
            self.before_batch(len(queries))
        return self.backend.search(queries, k)

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect(self._queue)
            if not batch:
                continue
            k = max(pending.k for pending in batch)  # one call: the largest k, each answer cut to its own
            queries = [pending.query for pending in batch]
            self.stats.add(len(batch))
            try:
                results = await loop.run_in_executor(self._executor, self._search, queries, k)
                if len(results) != len(batch):
                    raise RuntimeError(f"the backend answered {len(results)} of {len(batch)} queries")
            except asyncio.CancelledError:
                for pending in batch:
                    if not pending.answer.done():
                        pending.answer.set_exception(RequestRefused("the service is shutting down", 503))
                raise
            except Exception as error:  # noqa: BLE001 - a failed search fails its batch, not the service
                log.exception("retriever search failed for a batch of %d queries", len(batch))
                for pending in batch:
                    if not pending.answer.done():
                        pending.answer.set_exception(
                            RequestRefused(f"search failed: {type(error).__name__}: {error}", 500))
                continue
            for pending, hits in zip(batch, results, strict=True):
                if not pending.answer.done():
                    pending.answer.set_result(list(hits[:pending.k]))


BATCHER_KEY = web.AppKey("batcher", MicroBatcher)


# --- requests -----------------------------------------------------------------------------------


def _error(message: str, status: int) -> web.Response:
    return web.Response(body=orjson.dumps({"error": message}), status=status, content_type="application/json")


def _validation_message(error: ValidationError) -> str:
    """Pydantic's errors as a sentence a client can act on, naming the field."""
    parts = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "body"
        kind = item["type"]
        if kind == "missing":
            parts.append(f"'{name}' is missing")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field '{name}' (send 'query' and optionally 'k')")
        elif name == "query":
            parts.append(f"'query' must be a string, got {type(item.get('input')).__name__}")
        elif name == "k":
            parts.append(f"'k' must be an integer, got {item.get('input')!r}")
        else:
            parts.append(f"'{name}': {item['msg']}")
    return "; ".join(parts)


def parse_search_request(body: bytes, *, default_k: int, max_k: int) -> tuple[str, int]:
    """The query (stripped) and ``k`` of a ``/search`` body, or :class:`RequestRefused` saying why not."""
    if not body.strip():
        raise RequestRefused('empty body: send a JSON object {"query": "...", "k": 5}')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestRefused(f"the body is not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise RequestRefused(f'the body must be a JSON object {{"query": "...", "k": 5}}, not a {type(data).__name__}')
    try:
        request = SearchRequest.model_validate(data)
    except ValidationError as error:
        raise RequestRefused(_validation_message(error)) from error
    query = request.query.strip()
    if not query:
        raise RequestRefused("'query' is empty")
    k = default_k if request.k is None else request.k
    if not 1 <= k <= max_k:
        raise RequestRefused(f"'k' must be between 1 and {max_k}, got {k}")
    return query, k


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise RequestRefused(f"the body is {request.content_length} bytes; the limit is {limit}", 413)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as error:  # chunked bodies have no length up front
        raise RequestRefused(f"the body is over the limit of {limit} bytes", 413) from error


def _check_content_type(request: web.Request) -> None:
    # A missing or generic type (clients send raw bytes as octet-stream) is taken as JSON; a form
    # or text upload is a client mistake worth naming.
    if "Content-Type" not in request.headers:
        return
    content_type = request.content_type
    if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
        raise RequestRefused(f"Content-Type {content_type!r} is not JSON; send application/json")


def backend_facts(backend: object) -> dict[str, Any]:
    """What ``/health`` says about the backend: whatever it exposes of its size, model and ranking."""
    describe = getattr(backend, "describe", None)
    if callable(describe):
        described = describe()
        if isinstance(described, Mapping):
            return dict(described)
    facts: dict[str, Any] = {}
    for key, names in (("documents", ("documents", "size")), ("model", ("model_name", "model")),
                       ("ranking", ("ranking",))):
        for name in names:
            value = getattr(backend, name, None)
            if isinstance(value, (int, str, float)) and not isinstance(value, bool):
                facts[key] = value
                break
            if key == "documents" and isinstance(value, Sequence) and not isinstance(value, str):
                facts[key] = len(value)
                break
    return facts


@web.middleware
async def _json_errors(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Every refusal as ``{"error": ...}``, aiohttp's own (404, 405, 413) included."""
    try:
        return await handler(request)
    except RequestRefused as refused:
        return _error(refused.message, refused.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error(error.reason if error.status != 404 else f"no such path {request.path!r}", error.status)


def create_app(backend: SearchBackend, settings: RetrieverServeSettings | None = None, *,
               default_k: int = 5, facts: Mapping[str, Any] | None = None,
               before_batch: Callable[[int], None] | None = None) -> web.Application:
    """The service's application over ``backend`` (already loaded; one instance serves every request).

    ``default_k`` answers requests without ``k``; ``facts`` are what ``/health`` reports
    (default: :func:`backend_facts`); ``before_batch`` is called with each batch's size in the
    search thread, before the search (``toolgen retriever serve`` sets the thread count there).

    The batcher starts and stops with the application (``on_startup`` / ``on_cleanup``), so
    aiohttp's graceful shutdown lets requests in flight finish before the worker goes.
    """
    cfg = settings or RetrieverServeSettings()
    default_k = min(default_k, cfg.max_k)
    app = web.Application(client_max_size=cfg.max_body_bytes, middlewares=[_json_errors])
    batcher = MicroBatcher(backend, max_batch=cfg.max_batch, max_wait_ms=cfg.max_wait_ms, before_batch=before_batch)
    app[BATCHER_KEY] = batcher
    health_facts = dict(facts) if facts is not None else backend_facts(backend)

    async def search(request: web.Request) -> web.Response:
        _check_content_type(request)
        body = await _read_body(request, cfg.max_body_bytes)
        query, k = parse_search_request(body, default_k=default_k, max_k=cfg.max_k)
        hits = await batcher.search(query, k)
        return web.Response(body=SearchResults(results=hits).model_dump_json().encode(),
                            content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"status": "ok", **health_facts}), content_type="application/json")

    async def start(app: web.Application) -> None:
        await batcher.start()

    async def stop(app: web.Application) -> None:
        await batcher.stop()

    app.router.add_post("/search", search)
    app.router.add_get("/health", health)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


async def serve(app: web.Application, settings: RetrieverServeSettings | None = None, *,
                host: str | None = None, port: int | None = None,
                on_started: Callable[[str], None] | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (or ``stop`` is set), then shut down gracefully.

    ``on_started`` is handed the URL once the socket listens (the real port when ``port`` is 0).
    """
    cfg = settings or RetrieverServeSettings()
    host = host if host is not None else cfg.host
    port = port if port is not None else cfg.port
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
            pass
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=cfg.shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0] if runner.addresses else (host, port)
        url = f"http://{_url_host(str(bound[0]))}:{bound[1]}"
        log.info("retriever service listening on %s", url)
        if on_started is not None:
            on_started(url)
        await stop.wait()
        log.info("retriever service shutting down")
    finally:
        await runner.cleanup()
        for signum in handled:
            loop.remove_signal_handler(signum)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
