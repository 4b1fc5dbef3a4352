"""The environment a policy acts in: one place where every tool call runs.

A call goes: look up the API → validate the arguments (a bad call gets an error observation,
like a real API's 400) → the response cache → the tool's mode: a real HTTP call, or a
simulated answer → the cache. The mode is chosen per tool when the environment opens: real
where the tool's host is allowed and answers, simulated otherwise (or as configured).

Real APIs have state. A call whose method is in ``env.cache_real_methods`` (GET, HEAD) is a
read; any other is a write: it always goes to the server and is never replayed, and it adds to
its caller's *history* with that tool — a fingerprint of the caller's writes so far, in order.
A read is cached under that history (none yet: the state every caller starts from), so a cached
answer is replayed only to a caller who wrote the same things before it: another search's cart
is never served as this one's, and a resumed search, whose writes run again against a fresh
sandbox, gets the answers a first run would have got. Reads that depend on no write stay shared
by every search. A caller is a ``client_id``; the bundled sandbox keeps one world per client
id (:mod:`pipeline.env.sandbox.sessions`), and the environment tags the ids it sends with a
token of its own, so a sandbox that outlives the environment cannot show a new environment's
callers the writes of an old one. Simulated tools have no state: their answers are cached by
the call alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from pipeline.canonical import call_key
from pipeline.env.arguments import ArgumentValidator
from pipeline.env.cache import ResponseCache
from pipeline.env.credentials import CredentialResolver
from pipeline.env.http import HttpExecutor, make_session, rewrite_url
from pipeline.env.observation import Observation, error_observation
from pipeline.env.simulate import ResponseSimulator, Simulator
from pipeline.hosts import HostNotAllowed, HostPolicy
from pipeline.models import Api, Tool
from pipeline.net import is_under
from pipeline.settings import Credential, EnvSettings, Settings

if TYPE_CHECKING:
    from pipeline.llm.types import ChatModel

log = logging.getLogger(__name__)

ToolMode = Literal["real", "simulated"]

_REACHABILITY_CHECKS = 64  # hosts checked at once when an environment opens


@dataclass
class _History:
    """One caller's writes to one tool: what the tool's answers to it may depend on."""

    state: str | None = None  # fingerprint of the writes so far, in order; None: no write yet
    writing: int = 0  # writes in flight: until they are answered the state is unknown
    started: int = 0  # writes ever sent: a read during which one started saw an unknown state


class Environment:
    """Runs tool calls against real or simulated APIs; use :func:`open_environment` to build one."""

    def __init__(
        self,
        tools: Iterable[Tool],
        settings: EnvSettings,
        *,
        modes: Mapping[str, ToolMode],
        executor: HttpExecutor | None,
        simulator: Simulator,
        cache: ResponseCache | None,
    ) -> None:
        self.tools = {tool.id: tool for tool in tools}
        self._apis = {
            tool.id: {api.id: api for api in tool.api_list} for tool in self.tools.values()
        }
        self.settings = settings
        self.modes = dict(modes)
        self._executor = executor
        self._simulator = simulator
        # what the simulator answers with when it works (an LLM simulator falls back to rules)
        self._simulated_mode = simulator.mode
        self._cache = cache
        self._validator = ArgumentValidator()
        self._cacheable_methods = {m.upper() for m in settings.cache_real_methods}
        self._histories: dict[tuple[str | None, str], _History] = {}  # (client id, tool id): writes
        self._client_tag = secrets.token_hex(4)
        self.counts: Counter[str] = Counter()

    def api(self, tool_id: str, api_id: str) -> tuple[Tool, Api] | str:
        """The tool and API, or a message saying what is unknown."""
        tool = self.tools.get(tool_id)
        if tool is None:
            known = sorted(self.tools)
            shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
            return f"unknown tool {tool_id!r} (known: {shown})"
        api = self._apis[tool_id].get(api_id)
        if api is None:
            available = ", ".join(sorted(self._apis[tool_id]))
            return f"tool {tool_id!r} has no API {api_id!r} (available: {available})"
        return tool, api

    async def call(
        self, tool_id: str, api_id: str, arguments: Any, *, client_id: str | None = None
    ) -> Observation:
        """Run one call; never raises for a bad call or a failing API."""
        self.counts["calls"] += 1
        found = self.api(tool_id, api_id)
        if isinstance(found, str):
            self.counts["rejected"] += 1
            return error_observation(found)
        tool, api = found
        arguments, problems = self._validator.check(
            api, arguments, reject_unknown=self.settings.reject_unknown_arguments
        )
        if problems:
            self.counts["rejected"] += 1
            return error_observation("; ".join(problems), status=400)

        mode = self.modes.get(tool_id, "simulated")
        state: str | None = None
        writes_before = 0
        if mode == "simulated":
            cacheable = self._cache is not None
        elif api.method.upper() in self._cacheable_methods:
            history = self._histories.get((client_id, tool_id))
            if history is not None:
                state, writes_before = history.state, history.started
            cacheable = self._cache is not None and (history is None or not history.writing)
        else:
            return await self._write(tool, api, arguments, client_id)
        if cacheable:
            assert self._cache is not None
            hit = self._cache.get(tool_id, api_id, arguments, state=state)
            # A simulated answer stored while the tool was simulated must not stand in for the
            # real API once it is reachable; the fresh answer replaces it.
            if hit is not None and (mode != "real" or hit.mode == "real"):
                self.counts["cache_hits"] += 1
                return hit
            self.counts["cache_misses"] += 1

        observation = await self._run(tool, api, arguments, client_id, mode)
        if observation.error:
            return observation
        if mode == "real" and self._writes_started(client_id, tool_id) != writes_before:
            return observation  # the caller wrote meanwhile: which state this answer saw is unknown
        if cacheable and not (mode != "real" and observation.mode != self._simulated_mode):
            assert self._cache is not None
            # Only answers worth replaying are kept: not an error, a rate limit or a timeout, and
            # not the rule-based stand-in for a model that failed to play the API server.
            self._cache.put(tool_id, api_id, arguments, observation, state=state)
        return observation

    async def _write(self, tool: Tool, api: Api, arguments: Any, client_id: str | None) -> Observation:
        """A call that may change the API's state: always sent, and added to the caller's history
        whatever it answers (a failed write may have changed something too)."""
        history = self._histories.setdefault((client_id, tool.id), _History())
        history.writing += 1
        history.started += 1
        try:
            return await self._run(tool, api, arguments, client_id, "real")
        finally:
            history.writing -= 1
            step = f"{history.state or ''}:{call_key(tool.id, api.id, arguments)}"
            history.state = hashlib.sha256(step.encode()).hexdigest()

    def _writes_started(self, client_id: str | None, tool_id: str) -> int:
        history = self._histories.get((client_id, tool_id))
        return history.started if history is not None else 0

    async def _run(self, tool: Tool, api: Api, arguments: Any, client_id: str | None,
                   mode: ToolMode) -> Observation:
        if mode == "real" and self._executor is not None:
            # the tag keeps this environment's callers apart from an earlier one's on the server
            client = f"{client_id}~{self._client_tag}" if client_id else None
            observation = await self._executor.execute(tool, api, arguments, client_id=client)
        else:
            started = time.perf_counter()
            observation = await self._simulator.asimulate(tool, api, arguments)
            observation.elapsed_ms = (time.perf_counter() - started) * 1000
        self.counts[observation.mode] += 1
        if observation.error:
            self.counts["errors"] += 1
        return observation

    def stats(self) -> dict[str, Any]:
        figures: dict[str, Any] = dict(self.counts)
        figures["modes"] = dict(Counter(self.modes.values()))
        if self._cache is not None:
            figures["cache"] = self._cache.stats.as_dict()
        simulator_stats = getattr(self._simulator, "stats", None)  # the LLM simulator's outcomes
        if callable(simulator_stats):
            figures["simulator"] = simulator_stats()
        return figures


@asynccontextmanager
async def open_environment(
    tools: Iterable[Tool],
    settings: Settings,
    *,
    run_dir: Path,
    sandbox_url: str | None = None,
    model: ChatModel | None = None,
) -> AsyncIterator[Environment]:
    """An environment over ``tools``, with the bundled sandbox running when they need it.

    The sandbox is started on a free port when a tool is written for its documented base URL
    (``env.sandbox.spec_base_url``) and ``env.sandbox.enabled`` is on; pass ``sandbox_url`` to
    use one that is already running. Calls to the documented base URL go to the running
    sandbox, and only that exact host:port is exempt from the private-address rule.
    With ``env.simulation.use_llm`` on, simulated tools are answered by a model playing the API
    server (:mod:`pipeline.env.llm_simulate`): ``model`` if given (the caller owns it), else
    one built from ``settings.llm`` for this environment.
    """
    owned: ChatModel | None = None
    if model is None and settings.env.simulation.use_llm:
        from pipeline.llm.factory import build_chat_model

        model = owned = build_chat_model(settings, run_dir=run_dir)
        if model is None:
            log.warning("env.simulation.use_llm is on but llm.backend is offline: the rule-based simulator answers")
    try:
        async with _with_sandbox(list(tools), settings, run_dir, sandbox_url, model) as environment:
            yield environment
    finally:
        if owned is not None:
            from pipeline.llm.types import close_chat_model

            await close_chat_model(owned)


@asynccontextmanager
async def _with_sandbox(
    tools: list[Tool], settings: Settings, run_dir: Path, sandbox_url: str | None, model: ChatModel | None
) -> AsyncIterator[Environment]:
    """Start the sandbox around the environment when the tools need one and none is given."""
    sandbox_settings = settings.env.sandbox
    # A tool configured as simulated never calls the sandbox, so it does not need one running.
    wants_sandbox = any(
        is_under(t.base_url, sandbox_settings.spec_base_url)
        and settings.env.tool_modes.get(t.id, settings.env.mode) != "simulated"
        for t in tools
    )
    if sandbox_url is not None or not (wants_sandbox and sandbox_settings.enabled):
        async with _open(tools, settings, run_dir, sandbox_url, model) as environment:
            yield environment
        return
    from pipeline.env.sandbox import start_sandbox

    sandbox = await start_sandbox(
        sandbox_settings.host,
        sandbox_settings.port,
        seed=sandbox_settings.seed,
        latency_ms=sandbox_settings.latency_ms,
        rate_limit_per_minute=sandbox_settings.rate_limit_per_minute,
    )
    try:
        async with _open(tools, settings, run_dir, sandbox.base_url, model) as environment:
            yield environment
    finally:
        await sandbox.close()


@asynccontextmanager
async def _open(
    tools: list[Tool], full_settings: Settings, run_dir: Path, sandbox_url: str | None,
    model: ChatModel | None = None,
) -> AsyncIterator[Environment]:
    settings = full_settings.env
    rewrites: dict[str, str] = {}
    always_allowed: list[str] = []
    defaults: dict[str, Credential] = {}
    if sandbox_url is not None:
        from pipeline.env.sandbox import SANDBOX_API_KEY

        rewrites[settings.sandbox.spec_base_url.rstrip("/")] = sandbox_url.rstrip("/")
        always_allowed.append(urlsplit(sandbox_url).netloc)
        for tool in tools:
            # parsed origins, not a string prefix: http://127.0.0.1:8750@elsewhere is elsewhere
            if is_under(tool.base_url, settings.sandbox.spec_base_url) and tool.auth:
                defaults[tool.id] = Credential(value=SecretStr(SANDBOX_API_KEY))
    policy = HostPolicy(
        settings.allowed_hosts, allow_private=settings.allow_private_networks, always_allowed=always_allowed
    )
    cache = ResponseCache(Path(run_dir) / "env" / "responses.sqlite") if settings.cache else None
    try:
        # make_session re-checks addresses at connect time (no DNS rebinding) and keeps no cookies.
        async with make_session(settings, policy) as session:
            executor = HttpExecutor(
                settings,
                session=session,
                policy=policy,
                credentials=CredentialResolver(settings.credentials, environ=os.environ, defaults=defaults,
                                               defaults_for=sandbox_url),
                url_rewrites=rewrites,
            )
            modes = await choose_modes(tools, settings, policy, rewrites)
            yield Environment(
                tools,
                settings,
                modes=modes,
                executor=executor,
                simulator=_simulator(full_settings, cache, model),
                cache=cache,
            )
    finally:  # also when choosing the modes is interrupted
        if cache is not None:
            cache.close()


def _simulator(full_settings: Settings, cache: ResponseCache | None, model: ChatModel | None) -> Simulator:
    """Rule-based, or the simulator model playing the API server when asked for and configured."""
    simulation = full_settings.env.simulation
    rules = ResponseSimulator(simulation, seed=full_settings.seed)
    if model is None or not simulation.use_llm:
        return rules
    from pipeline.env.llm_simulate import LLMSimulator

    return LLMSimulator(model, cache, simulation, fallback=rules)


async def choose_modes(
    tools: list[Tool], settings: EnvSettings, policy: HostPolicy, rewrites: Mapping[str, str]
) -> dict[str, ToolMode]:
    """Real where the tool's host is allowed and reachable, simulated otherwise (or as configured)."""
    modes: dict[str, ToolMode] = {}
    urls: dict[str, str] = {}
    for tool in tools:
        if tool.id in settings.tool_modes:
            modes[tool.id] = settings.tool_modes[tool.id]
        elif settings.mode != "auto":
            modes[tool.id] = settings.mode
        else:
            url = tool.base_url or (tool.api_list[0].url if tool.api_list else "")
            urls[tool.id] = rewrite_url(url, rewrites)
    # A collected catalog names thousands of hosts: checked one after another, each silent one
    # would cost the whole reachability timeout before the first call.
    limit = asyncio.Semaphore(_REACHABILITY_CHECKS)
    reachable: dict[str, asyncio.Task[bool]] = {}

    async def reason_for(url: str) -> str | None:
        async with limit:
            return await _unusable_reason(url, policy, reachable, settings.reachability_timeout_s)

    reasons = await asyncio.gather(*(reason_for(url) for url in urls.values()))
    for tool_id, reason in zip(urls, reasons, strict=True):
        modes[tool_id] = "real" if reason is None else "simulated"
        if reason is not None:
            log.info("tool %s is simulated: %s", tool_id, reason)
    return modes


async def _unusable_reason(
    url: str, policy: HostPolicy, reachable: dict[str, asyncio.Task[bool]], timeout_s: float
) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "no absolute base URL"
    try:
        await policy.check(url)
    except HostNotAllowed as error:
        return str(error)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.hostname}:{port}"
    if where not in reachable:  # one connection per host:port, shared by its tools
        reachable[where] = asyncio.ensure_future(_answers(parts.hostname, port, timeout_s))
    return None if await reachable[where] else f"{where} does not answer"


async def _answers(host: str, port: int, timeout_s: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (TimeoutError, OSError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True
