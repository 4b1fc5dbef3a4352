"""The sandbox web application: every bundled tool mounted under ``/<slug>`` on one server.

Per request, in order: optional injected latency, the per-client rate limit, the API key (for
tools whose spec declares one), argument and body validation against the spec, then the tool's
handler in the client's own world (:mod:`.sessions`). Every failure is answered with the specs'
``Error`` JSON body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from ...io import dumps
from .core import Call, Reply
from .errors import ApiError
from .ratelimit import RateLimiter
from .schemas import SchemaSet
from .sessions import MAX_SESSIONS, Worlds
from .specs import ApiKeyScheme, Operation, ToolSpec, load_tool_specs
from .validation import RequestRules

logger = logging.getLogger(__name__)

SANDBOX_API_KEY = "sandbox-key"
"""The one key the sandbox accepts for tools whose spec declares an apiKey scheme."""

CLIENT_HEADER = "X-Client-Id"


def create_app(
    *,
    seed: int = 0,
    latency_ms: float = 0.0,
    rate_limit_per_minute: int | None = 120,
    specs: Sequence[ToolSpec] | None = None,
    max_sessions: int = MAX_SESSIONS,
) -> web.Application:
    """Build the sandbox application.

    ``seed`` fixes every generated record, so two apps with one seed answer identically.
    ``latency_ms`` delays every response (to exercise client timeouts and concurrency).
    ``rate_limit_per_minute`` is per client and per tool; ``None`` switches limiting off.
    ``specs`` mounts only these tools (default: every bundled spec).
    Each ``X-Client-Id`` gets its own copy of the tools' state, for the ``max_sessions`` clients
    seen most recently (:mod:`.sessions`); requests without one share a world.
    """
    tool_specs = tuple(specs) if specs is not None else load_tool_specs()
    limiter = RateLimiter(rate_limit_per_minute) if rate_limit_per_minute else None
    app = web.Application(middlewares=[_middleware(limiter, max(0.0, latency_ms) / 1000.0)])
    index = dumps(_index(tool_specs, seed))

    async def describe(_request: web.Request) -> web.Response:
        return web.Response(body=index, content_type="application/json")

    app.router.add_get("/", describe)
    worlds = Worlds([spec.slug for spec in tool_specs], seed, max_sessions=max_sessions)
    for spec in tool_specs:
        _mount(app, spec, worlds)
    return app


def _mount(app: web.Application, spec: ToolSpec, worlds: Worlds) -> None:
    declared = {op.operation_id for op in spec.operations}
    handled = worlds.operations(spec.slug)
    if declared != handled:
        raise ValueError(
            f"{spec.source}: operations without a handler {sorted(declared - handled)}, "
            f"handlers without an operation {sorted(handled - declared)}"
        )
    schemas = SchemaSet(spec.document)
    # Literal paths first and each path's methods together: a literal path such as
    # ``/movies/popular`` must not be swallowed by ``/movies/{movie_id}``.
    ordered = sorted(spec.operations, key=lambda op: (op.path.count("{"), op.path, op.method))
    for op in ordered:
        key_params = {scheme.name for alt in op.security for scheme in alt if scheme.location == "query"}
        rules = RequestRules(op, schemas, extra_query=key_params)
        app.router.add_route(
            op.method, f"/{spec.slug}{op.path}", _endpoint(spec.slug, op, rules, worlds)
        )


def _endpoint(
    slug: str, op: Operation, rules: RequestRules, worlds: Worlds
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        _authenticate(op, request)
        params = rules.arguments(request.match_info, request.query, request.headers)
        body = rules.body(await request.read()) if rules.takes_body else None
        call = Call(params=params, body=body, path=request.path, query=dict(request.query))
        result = worlds.handler(request.headers.get(CLIENT_HEADER), slug, op.operation_id)(call)
        return _json(result if isinstance(result, Reply) else Reply(result))

    return endpoint


def _authenticate(op: Operation, request: web.Request) -> None:
    if not op.security:
        return
    problems = []
    for alternative in op.security:
        missing = [s for s in alternative if _presented_key(s, request) != SANDBOX_API_KEY]
        if not missing:
            return
        problems.extend(missing)
    scheme = problems[0]
    where = (
        f"the {scheme.name} header" if scheme.location == "header" else f"the '{scheme.name}' query parameter"
    )
    presented = _presented_key(scheme, request)
    reason = "Missing API key" if presented is None else "Invalid API key"
    raise ApiError(401, "unauthorized", f"{reason}: send your API key in {where}.", param=scheme.name)


def _presented_key(scheme: ApiKeyScheme, request: web.Request) -> str | None:
    source = request.headers if scheme.location == "header" else request.query
    return source.get(scheme.name)


def _middleware(limiter: RateLimiter | None, latency_s: float) -> Middleware:
    @web.middleware
    async def sandbox_middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if latency_s:
            await asyncio.sleep(latency_s)
        if request.path == "/":
            return await handler(request)
        headers: dict[str, str] = {}
        try:
            if limiter is not None:
                client = request.headers.get(CLIENT_HEADER) or request.remote or "unknown"
                decision = limiter.check((client, request.path.split("/")[1]))
                headers = {
                    "X-RateLimit-Limit": str(decision.limit),
                    "X-RateLimit-Remaining": str(decision.remaining),
                }
                if not decision.allowed:
                    raise ApiError(
                        429,
                        "rate_limited",
                        f"Rate limit of {decision.limit} requests per minute exceeded; "
                        f"retry after {decision.retry_after} seconds.",
                        headers={"Retry-After": str(decision.retry_after)},
                    )
            response = await handler(request)
        except ApiError as error:
            response = _error(error)
        except web.HTTPException as error:  # unknown route or method, raised by the router
            code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "http_error")
            message = f"{request.method} {request.path}: {error.reason}."
            allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
            response = _error(ApiError(error.status, code, message, headers=allow))
        except Exception:  # a bug in a handler: answer like a real API would, and log it
            logger.exception("sandbox handler failed for %s %s", request.method, request.path)
            response = _error(ApiError(500, "internal_error", "The server failed to handle the request."))
        response.headers.update(headers)
        return response

    return sandbox_middleware


def _error(error: ApiError) -> web.Response:
    return _json(Reply(error.body(), status=error.status, headers=error.headers))


def _json(reply: Reply) -> web.Response:
    return web.Response(
        body=dumps(reply.body),
        status=reply.status,
        headers=dict(reply.headers),
        content_type="application/json",
    )


def _index(specs: Sequence[ToolSpec], seed: int) -> dict[str, Any]:
    return {
        "service": "toolgen sandbox",
        "seed": seed,
        "tools": [
            {"slug": s.slug, "title": s.title, "base_path": f"/{s.slug}", "operations": len(s.operations)}
            for s in specs
        ],
    }
