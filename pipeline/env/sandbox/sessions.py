"""Each client of the sandbox has its own world: the carts, bookings, events and mail it makes.

A client is named by the ``X-Client-Id`` header (the pipeline sends one per search), as an
account names a user of a real service. Every client starts from the seeded state and sees
only its own writes, so what a client's calls answer depends on that client's calls alone —
not on which other searches ran before it or beside it. That makes a search reproducible
when many run concurrently, and when a killed run is resumed in a fresh sandbox.

Requests without the header share one anonymous world. The seeded data that never changes
(hotels, products, price histories ...) is generated once and shared; a client's world copies
only the attributes a tool declares in ``STATE``, when the client first calls that tool.
Worlds are kept for the ``max_sessions`` clients seen most recently; an older one is dropped
(and starts afresh if that client comes back).
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from .core import Handler, SandboxTool
from .tools import build_tool

log = logging.getLogger(__name__)

MAX_SESSIONS = 1024
"""Client worlds kept at once: far above the searches a run has in flight (each world of
every stateful tool is some 100 kB at most)."""


def fork(tool: SandboxTool) -> SandboxTool:
    """A copy of ``tool`` with its own deep copy of the attributes named in its ``STATE``
    (and everything else shared); a tool without ``STATE`` is stateless and returned as is."""
    names: tuple[str, ...] = getattr(type(tool), "STATE", ())
    if not names:
        return tool
    clone = copy.copy(tool)
    for name in names:
        setattr(clone, name, copy.deepcopy(getattr(tool, name)))
    return clone


class Worlds:
    """The handlers of every tool, per client; see the module docstring."""

    def __init__(self, slugs: Iterable[str], seed: int, *, max_sessions: int = MAX_SESSIONS,
                 build: Callable[[str, int], SandboxTool] = build_tool) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, not {max_sessions}")
        self._seeded = {slug: build(slug, seed) for slug in slugs}  # never called: only forked
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str | None, dict[str, Mapping[str, Handler]]] = OrderedDict()

    def operations(self, slug: str) -> set[str]:
        """The operation ids the tool answers."""
        return set(self._seeded[slug].handlers())

    def handler(self, client: str | None, slug: str, operation_id: str) -> Handler:
        """The function answering ``operation_id`` of tool ``slug`` in ``client``'s world."""
        session = self._sessions.get(client)
        if session is None:
            session = self._sessions[client] = {}
            if len(self._sessions) > self._max_sessions:
                dropped, _ = self._sessions.popitem(last=False)
                log.info("sandbox: dropped the world of client %r (more than %d clients)", dropped,
                         self._max_sessions)
        else:
            self._sessions.move_to_end(client)
        handlers = session.get(slug)
        if handlers is None:
            handlers = session[slug] = fork(self._seeded[slug]).handlers()
        return handlers[operation_id]

    def __len__(self) -> int:
        return len(self._sessions)
