"""The offline policy: rule-based, deterministic, no network.

THIS IS NOT AN LLM. It is the embedded stand-in for the ``policy`` role when ``llm.backend =
"offline"``, so DFSDT search (and everything after it) runs anywhere with no key. It receives the
very same :class:`~pipeline.llm.types.ChatRequest` an LLM would (OpenAI chat messages and OpenAI
tools) and has no side channel. Each reply is one function call plus a short "Thought". How it
decides:

* **Query and functions.** The query is the first user message; the functions are
  ``request.tools``. Each function is scored by the overlap of its name / description tokens with
  the query tokens (stopwords dropped, light stemming). A greedy cover of the query tokens picks
  the *relevant* functions (the query's parts); their order is the position in the query where
  they match first, which is also the order a chained query ("... and with the symbol from that
  result, ...") implies.
* **History.** Assistant ``tool_calls`` are paired with ``tool`` messages by ``tool_call_id``;
  an observation ``{"error": ..., "response": ...}`` with a non-empty error (or an error-looking
  response) is a failure, anything else a success. Non-JSON observations are kept as text.
* **Arguments** (per parameter, best source first): an explicit mention in the query ("days 30",
  "city 'Lisbon'"), a field of an earlier successful response whose name matches the parameter
  (``id`` of a city search → ``city_id``, ``lat``/``lon``, ``symbol``; lists give their first
  item), query heuristics (quoted strings, dates, numbers with units, capitalised names, IATA /
  currency codes, enum members), then ``example_value`` / enum / ``default``, then a small value
  bank by parameter name (city, date, count ...). A required parameter with no source makes the
  function not callable now (it never invents an id).
* **Errors.** When the last observation is an error, it reads what it names (missing argument,
  wrong type, "must be one of [...]", not found, unexpected argument), adjusts that argument and
  calls again; after two failures of one function it moves on to another; when nothing is left it
  calls ``Finish`` with ``give_up_and_restart``.
* **Diversity prompt.** When a user message after the query lists earlier attempts (ToolBench's
  re-expansion prompt), functions named there are avoided.
* **Finish.** When every relevant function has a successful observation it calls ``Finish`` with
  ``give_answer`` and a templated ``final_answer`` quoting key facts of the observations.

Choices are seeded by the conversation and ``request.sample_index``: the same request always gets
the same reply, a new sample index may pick another of the top candidates.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import random
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.llm.types import ChatReply, ChatRequest, ToolCall, Usage
from pipeline.schema_values import boolean_from_text, primary_type

log = logging.getLogger(__name__)

MODEL_NAME = "offline-rule-policy"
FINISH = "Finish"
MAX_CALLS = 24  # give up (or answer) after this many calls in one conversation
MAX_FAILURES = 2  # failures of one function before moving on

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "they",
        "them",
        "their",
        "his",
        "her",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "having",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "need",
        "want",
        "like",
        "just",
        "also",
        "then",
        "after",
        "next",
        "some",
        "any",
        "all",
        "each",
        "every",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "s",
        "t",
        "get",
        "gets",
        "got",
        "give",
        "tell",
        "show",
        "find",
        "look",
        "up",
        "one",
        "two",
        "me",
        "help",
        "quick",
        "project",
        "working",
        "manager",
        "asked",
        "planning",
        "ahead",
        "week",
        "urgent",
        "bit",
        "sure",
        "let",
        "know",
        "using",
        "use",
        "via",
        "per",
        "there",
        "here",
        "if",
        "not",
        "no",
        "yes",
        "now",
        "right",
        "ok",
        "okay",
        "make",
        "made",
        "want",
        "wants",
        "would",
        "like",
        "id",
    ]
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_QUOTED = re.compile(r"(?<!\w)'([^']{1,200})'(?!\w)|\"([^\"]{1,200})\"|“([^”]{1,200})”")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w-])")
_CAPNAME = re.compile(r"\b([A-Z][a-zà-ÿ]+(?:[ -][A-Z][a-zà-ÿ]+)*)\b")
_CODE3 = re.compile(r"\b([A-Z]{3})\b")
_UPPER = re.compile(r"\b([A-Z]{1,5})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_CURRENCIES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "AUD",
        "CAD",
        "CHF",
        "CNY",
        "SGD",
        "AED",
        "MXN",
        "BRL",
        "EGP",
        "INR",
        "KRW",
        "TRY",
        "SEK",
        "NOK",
        "HKD",
        "ZAR",
        "NZD",
        "DKK",
        "PLN",
    ]
)
_BANK: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("city", "town", "location", "place"), ["Lisbon", "Paris", "Tokyo", "Toronto"]),
    (("country",), ["PT", "FR", "JP", "US"]),
    (("date", "day", "checkin", "check_in", "departure"), ["2025-06-02", "2025-06-09", "2025-07-01"]),
    (("checkout", "check_out", "return"), ["2025-06-05", "2025-06-12"]),
    (("lang", "language", "locale"), ["en", "es", "fr"]),
    (("email",), ["alex.morgan@example.com"]),
    (
        (
            "limit",
            "count",
            "size",
            "number",
            "num",
            "adults",
            "guests",
            "people",
            "party",
            "quantity",
            "qty",
            "days",
        ),
        [1, 2, 3],
    ),
    (("page",), [1, 2]),
    (("offset",), [0]),
    (("query", "keyword", "keywords", "term", "search", "text", "q"), None),  # from query words
)
_ERR_WORDS = re.compile(
    r"\b(error|exception|not found|invalid|missing|forbidden|unauthori[sz]ed|failed|denied)\b", re.IGNORECASE
)

# quality of an argument's source
Q_QUERY, Q_OBS, Q_DOC, Q_BANK, Q_NONE = 4, 3, 2, 1, 0


def _split_name(name: str) -> list[str]:
    return [w.lower() for w in _CAMEL.sub(" ", name).replace("-", " ").replace("_", " ").split() if w]


def _stem(word: str) -> str:
    w = word.lower()
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("es", ""), ("s", "")):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            if suffix == "es" and not w.endswith(("ches", "shes", "xes", "ses")):
                continue
            return w[: -len(suffix)] + keep
    return w


def _tokens(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(_CAMEL.sub(" ", text or "")):
        lw = w.lower()
        if lw in _STOPWORDS or len(lw) < 2:
            continue
        out.append(_stem(lw))
    return out


def _positioned_tokens(text: str) -> list[tuple[str, str, int]]:
    """(stem, lowercase word, character offset) of the content words of ``text``."""
    out = []
    for m in _WORD.finditer(text or ""):
        lw = m.group(0).lower()
        if lw in _STOPWORDS or len(lw) < 2:
            continue
        out.append((_stem(lw), lw, m.start()))
    return out


def _humanise(name: str) -> str:
    return " ".join(_split_name(name))


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


@dataclass
class Function:
    name: str
    description: str
    properties: dict[str, dict[str, Any]]
    required: list[str]
    api_tokens: set[str] = field(default_factory=set)
    desc_tokens: set[str] = field(default_factory=set)
    tool_tokens: set[str] = field(default_factory=set)
    anchor: int = 0  # where in the query the function's part starts
    end: int = 1 << 30  # where the next relevant function's part starts


@dataclass
class Call:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    ok: bool | None = None  # None: no observation yet
    error: str = ""
    response: Any = None


def _parse_functions(tools: Any) -> list[Function]:
    functions: list[Function] = []
    for tool in tools or []:
        if not isinstance(tool, dict):
            continue
        spec = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            continue
        params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
        props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
        props = {str(k): (v if isinstance(v, dict) else {}) for k, v in props.items()}
        required = (
            [str(r) for r in params.get("required") or [] if isinstance(r, str)]
            if isinstance(params.get("required"), list)
            else []
        )
        api_part, _, tool_part = name.partition("_for_")
        description = _text(spec.get("description"))
        functions.append(
            Function(
                name=name,
                description=description,
                properties=props,
                required=required,
                api_tokens=set(_tokens(" ".join(_split_name(api_part)))),
                desc_tokens=set(_tokens(description[:600])),
                tool_tokens=set(_tokens(" ".join(_split_name(tool_part)))),
            )
        )
    return functions


def _parse_observation(content: Any) -> tuple[bool, str, Any]:
    """(ok, error text, response) of a tool message."""
    text = _text(content)
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        bad = bool(re.match(r"\s*(error|http\s*[45]\d\d|[45]\d\d\b)", text, re.IGNORECASE))
        return (not bad and bool(text.strip())), (text[:300] if bad else ""), text
    if isinstance(data, dict) and ("error" in data or "response" in data):
        error = data.get("error")
        response = data.get("response")
        if isinstance(response, str):
            try:
                response = json.loads(response)
            except ValueError:
                pass
        if error:
            return False, error if isinstance(error, str) else json.dumps(error, ensure_ascii=False), response
        if isinstance(response, dict) and (
            response.get("error") or (isinstance(response.get("status"), int) and response["status"] >= 400)
        ):
            detail = response.get("message") or response.get("error")
            return False, f"{response.get('status', '')} {detail}".strip(), response
        if isinstance(response, str) and _ERR_WORDS.search(response[:120]) and len(response) < 300:
            return False, response, response
        return True, "", response
    return True, "", data


def _parse_history(messages: list[dict[str, Any]]) -> tuple[str, list[Call], str]:
    """(query, calls in order, diversity text after the last observation)."""
    query = ""
    calls: list[Call] = []
    by_id: dict[str, Call] = {}
    later_user: list[str] = []
    seen_query = False
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "user":
            if not seen_query:
                query, seen_query = _text(message.get("content")), True
            else:
                later_user.append(_text(message.get("content")))
        elif role == "assistant":
            later_user = []
            for k, tc in enumerate(message.get("tool_calls") or []):
                if not isinstance(tc, dict):
                    continue
                fn = tc.get("function") if isinstance(tc.get("function"), dict) else tc
                raw = fn.get("arguments", "{}")
                if isinstance(raw, dict):
                    args, raw = raw, json.dumps(raw)
                else:
                    try:
                        args = json.loads(raw or "{}")
                    except (ValueError, TypeError):
                        args = {}
                    if not isinstance(args, dict):
                        args = {}
                call = Call(
                    id=str(tc.get("id") or f"anon{len(calls)}_{k}"),
                    name=str(fn.get("name", "")),
                    arguments=args,
                    raw_arguments=str(raw),
                )
                calls.append(call)
                by_id[call.id] = call
        elif role in ("tool", "function"):
            later_user = []
            call = by_id.get(str(message.get("tool_call_id", "")))
            if call is None:  # pair by order / by name
                pending = [
                    c for c in calls if c.ok is None and (role != "function" or c.name == message.get("name"))
                ]
                call = pending[0] if pending else None
            if call is not None:
                call.ok, call.error, call.response = _parse_observation(message.get("content"))
    return query, calls, "\n".join(later_user)


# --- observations → values -------------------------------------------------------------------


def _walk(value: Any, path: tuple[str, ...], out: list[tuple[tuple[str, ...], Any]], depth: int = 0) -> None:
    if depth > 6 or len(out) > 2000:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, path + (str(k).lower(),), out, depth + 1)
    elif isinstance(value, list):
        for item in value[:10]:
            _walk(item, path + ("[]",), out, depth + 1)
    else:
        out.append((path, value))


_ALIASES = {
    "lat": {"lat", "latitude"},
    "lon": {"lon", "lng", "long", "longitude"},
    "latitude": {"lat", "latitude"},
    "longitude": {"lon", "lng", "longitude"},
}


def _obs_candidates(param: str, calls: list[Call]) -> list[Any]:
    """Values for ``param`` from earlier successful responses, most recent call first."""
    pname = param.lower()
    parts = _split_name(param)
    keys = _ALIASES.get(pname, {pname})
    owner = None  # "city_id" → key "id" under something about "city"
    if len(parts) >= 2 and parts[-1] in ("id", "code", "symbol", "key", "slug"):
        owner = [_stem(p) for p in parts[:-1]]
    found: list[Any] = []
    for call in reversed(calls):
        if not call.ok or call.response is None:
            continue
        leaves: list[tuple[tuple[str, ...], Any]] = []
        _walk(call.response, (), leaves)
        fn_words = {_stem(w) for w in _split_name(call.name.partition("_for_")[0])}
        exact, owned = [], []
        for path, value in leaves:
            if value is None or isinstance(value, bool) or not path:
                continue
            key = path[-1]
            if key in keys:
                exact.append(value)
            elif owner and key == parts[-1]:
                context = {_stem(w) for p in path[:-1] for w in _split_name(p)} | fn_words
                if all(o in context for o in owner) or (owner and owner[-1] in context):
                    owned.append(value)
        for v in exact + owned:
            if v not in found:
                found.append(v)
    return found


# --- the query → values ----------------------------------------------------------------------


class QueryFacts:
    def __init__(self, query: str, vocabulary: set[str] | frozenset[str] = frozenset()) -> None:
        self.query = query or ""
        self.lower = self.query.lower()
        spans = [(m.start(), m.end()) for m in re.finditer(r"\([^)]*\)", self.query)]
        self.quoted_at = [
            (next(g for g in m.groups() if g), m.start())
            for m in _QUOTED.finditer(self.query)
            if not any(a < m.start() < b for a, b in spans)
        ]
        self.quoted = [q for q, _ in self.quoted_at]
        self.dates = _ISO_DATE.findall(self.query)
        no_dates = _ISO_DATE.sub(" ", self.query)
        self.numbers = [m.group(0) for m in _NUMBER.finditer(no_dates)]
        self.emails = _EMAIL.findall(self.query)
        names = []
        for m in _CAPNAME.finditer(self.query):
            words = m.group(1)
            start = m.start(1)
            sentence_start = start == 0 or re.search(r"[.!?;:]\s*$|^\s*$", self.query[:start]) is not None
            first = words.split()[0].lower()
            if sentence_start and (
                first in _STOPWORDS or first in _COMMON_START or _stem(first) in vocabulary
            ):
                rest = words.split()[1:]
                if not rest:
                    continue
                words = " ".join(rest)
            if words.lower() in _STOPWORDS or words.lower() in _COMMON_START:
                continue
            if words not in names:
                names.append(words)
        self.names = names
        self.codes3 = [c for c in _CODE3.findall(self.query) if c not in ("AND", "THE")]
        self.upper = [u for u in _UPPER.findall(self.query) if u not in ("I", "A")]

    def explicit(
        self, param: str, spec: dict[str, Any], anchor: int = 0, siblings: Any = (), end: int | None = None
    ) -> Any:
        """A value the query names next to the parameter: "days 30", "city 'Lisbon'"; of several
        mentions, the first one at or after ``anchor`` (the function's part of the query)."""
        label = re.escape(_humanise(param)).replace(r"\ ", r"[\s_-]+")
        mentions = list(
            re.finditer(
                rf"\b{label}\b\s*(?:[:=]|is|of)?\s*('([^']*)'|\"([^\"]*)\"|\[[^\]]*\]|\{{[^}}]*\}}|[-\w.:@/]+)",
                self.query,
                re.IGNORECASE,
            )
        )
        label_h = _humanise(param)
        longer = [
            _humanise(o)[: -len(label_h)].strip()
            for o in siblings
            if o != param and _humanise(o).endswith(" " + label_h)
        ]
        mentions = [
            m
            for m in mentions
            if not any(
                re.search(rf"\b{re.escape(pre)}[\s_-]*$", self.query[: m.start()], re.IGNORECASE)
                for pre in longer
            )
        ]
        stop = end if end is not None else 1 << 30
        ahead = [m for m in mentions if anchor <= m.start() < stop]
        if end is not None:  # an optional parameter: only what the function's own part of the query says
            mentions = ahead
        else:
            mentions = ahead + [m for m in reversed(mentions) if m.start() < anchor]
        for m in mentions:
            quoted = m.group(2) if m.group(2) is not None else m.group(3)
            value = quoted if quoted is not None else m.group(1)
            if quoted is None and value[:1] in "[{":
                try:
                    value = json.loads(value) if _kind(spec) in ("array", "object") else value
                except ValueError:
                    pass
            coerced = _coerce(value, spec)
            if coerced is None:
                continue
            if quoted is None and isinstance(coerced, str):
                if (
                    spec.get("enum") is None
                    and not re.search(r"\d|[A-Z]", value)
                    and (len(param) < 4 or value.lower() in _STOPWORDS)
                ):
                    continue
                if value.lower() in _STOPWORDS and not spec.get("enum"):
                    continue
            return coerced
        return None


_COMMON_START = frozenset(
    [
        "what",
        "whats",
        "how",
        "please",
        "could",
        "can",
        "i",
        "my",
        "hi",
        "quick",
        "for",
        "find",
        "show",
        "get",
        "tell",
        "list",
        "look",
        "give",
        "is",
        "are",
        "do",
        "does",
        "would",
        "will",
        "search",
        "fetch",
        "check",
        "convert",
        "translate",
        "book",
        "send",
        "create",
        "add",
        "delete",
        "remove",
        "cancel",
        "compare",
        "track",
        "count",
        "calculate",
        "compute",
        "where",
        "when",
        "which",
        "who",
        "why",
        "then",
        "next",
        "after",
        "also",
        "and",
        "but",
    ]
)


def _kind(spec: dict[str, Any]) -> str:
    return (primary_type(spec) or "string").lower()


def _coerce(value: Any, spec: dict[str, Any]) -> Any:
    """``value`` made to fit ``spec`` (type, enum), or None."""
    kind = _kind(spec)
    enum = spec.get("enum") if isinstance(spec.get("enum"), list) else None
    if enum:
        for member in enum:
            if str(member).lower() == str(value).lower():
                return member
        return None
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return int(value) if kind == "integer" and float(value).is_integer() else value
        m = re.search(r"-?\d+(?:\.\d+)?", str(value))
        if not m:
            return None
        num = float(m.group(0))
        if kind == "integer":
            # ToolBench types every NUMBER parameter integer: a coordinate stays a float
            return int(num) if num.is_integer() else num
        return int(num) if num.is_integer() and "." not in m.group(0) else num
    if kind == "boolean":
        return boolean_from_text(str(value))
    if kind in ("array", "object"):
        return (
            None
            if isinstance(value, (str, int, float)) and kind == "object"
            else ([value] if not isinstance(value, list) else value)
        )
    if isinstance(value, (dict, list)):  # a JSON value for a parameter typed string (ToolBench's default)
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _heuristic(param: str, spec: dict[str, Any], facts: QueryFacts, used: set[str], anchor: int = 0) -> Any:
    """Guess ``param`` from the query text by its name, type and enum."""
    words = set(_split_name(param))
    pname = param.lower()
    desc = _text(spec.get("description")).lower()
    kind = _kind(spec)
    enum = spec.get("enum") if isinstance(spec.get("enum"), list) else None

    def fresh(values: list[Any]) -> Any:
        for v in values:
            if str(v) not in used:
                return v
        return None

    if enum:
        hits = []
        for member in enum:
            m = re.search(
                rf"(?<![\w-]){re.escape(str(member))}(?![\w-])",
                facts.query,
                re.IGNORECASE if not str(member).isupper() else 0,
            )
            if m and len(str(member)) > 1:
                hits.append((m.start(), member))
        hits.sort(key=lambda h: h[0])
        return fresh([h[1] for h in hits])
    if "date" in words or spec.get("format") in ("date", "date-time") or "yyyy-mm-dd" in desc:
        return fresh(facts.dates)
    if "email" in words or spec.get("format") == "email":
        return fresh(facts.emails)
    if kind in ("integer", "number"):
        # a number next to the parameter's name or a unit-like word from it: "3 days", "for 2 adults"
        for word in [pname] + sorted(words, key=len, reverse=True):
            if len(word) < 3:
                continue
            m = re.search(
                rf"(-?\d+(?:\.\d+)?)\s+{re.escape(word)}|{re.escape(word)}\s*(?:of|:|=)?\s*(-?\d+(?:\.\d+)?)",
                facts.lower,
            )
            if m:
                return _coerce(m.group(1) or m.group(2), spec)
        return None
    if kind != "string":
        return None
    if words & {"iata", "airport", "origin", "destination"} or (
        pname in ("from", "to") and "airport" in desc
    ):
        return fresh([c for c in facts.codes3 if c not in _CURRENCIES])
    if words & {"currency", "base", "symbols"}:
        return fresh([c for c in facts.codes3 if c in _CURRENCIES])
    if words & {"symbol", "ticker"}:
        return fresh([u for u in facts.upper if u not in _CURRENCIES and len(u) >= 2])
    if words & {
        "city",
        "town",
        "location",
        "place",
        "name",
        "title",
        "team",
        "person",
        "hotel",
        "restaurant",
        "movie",
        "destination",
        "address",
    } or pname in ("q", "query", "keyword", "search", "term"):
        quoted = [q for q, at in facts.quoted_at if at >= anchor]
        value = fresh(quoted) if pname in ("q", "query", "keyword", "search", "term", "text") else None
        return value if value is not None else fresh(facts.names)
    if words & {"text", "message", "body", "content", "subject", "note", "description"}:
        return fresh(facts.quoted)
    return None


def _bank(param: str, spec: dict[str, Any], alt: int) -> Any:
    words = set(_split_name(param)) | {param.lower()}
    kind = _kind(spec)
    for keys, values in _BANK:
        if words & set(keys) and values is not None:
            candidates = [v for v in values if _coerce(v, spec) is not None]
            if candidates:
                return _coerce(candidates[alt % len(candidates)], spec)
    if kind == "boolean":
        return False
    return None


@dataclass
class Fill:
    arguments: dict[str, Any]
    quality: int  # the worst quality over the required parameters (Q_QUERY if none)
    missing: list[str]


def _doc_values(spec: dict[str, Any]) -> list[Any]:
    values = []
    for key in ("example_value", "example", "default"):
        v = spec.get(key)
        if v not in (None, "") and _coerce(v, spec) is not None:
            values.append(_coerce(v, spec))
    if isinstance(spec.get("examples"), list):
        values += [_coerce(v, spec) for v in spec["examples"] if _coerce(v, spec) is not None]
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        values += list(spec["enum"])
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _fill_param(
    param: str,
    spec: dict[str, Any],
    facts: QueryFacts,
    calls: list[Call],
    used: set[str],
    alt: int = 0,
    anchor: int = 0,
    siblings: Any = (),
) -> tuple[Any, int]:
    """(value, quality); ``alt`` > 0 asks for an alternative value (the alt-th best)."""
    options: list[tuple[Any, int]] = []
    explicit = facts.explicit(param, spec, anchor, siblings)
    if explicit is not None:
        options.append((explicit, Q_QUERY))
    for v in _obs_candidates(param, calls)[:5]:
        c = _coerce(v, spec)
        if c is not None:
            options.append((c, Q_OBS))
    guess = _heuristic(param, spec, facts, used, anchor)
    if guess is not None:
        options.append((guess, Q_QUERY))
    options += [(v, Q_DOC) for v in _doc_values(spec)]
    banked = _bank(param, spec, 0)
    if banked is not None:
        options += [(banked, Q_BANK), (_bank(param, spec, 1), Q_BANK)]
    seen: list[tuple[Any, int]] = []
    for v, q in options:
        if v is not None and all(v != s for s, _ in seen):
            seen.append((v, q))
    if not seen:
        return None, Q_NONE
    return seen[min(alt, len(seen) - 1)] if alt < len(seen) else (None, Q_NONE)


def _fill(
    fn: Function,
    facts: QueryFacts,
    calls: list[Call],
    alts: dict[str, int] | None = None,
    extra: set[str] | None = None,
) -> Fill:
    alts = alts or {}
    args: dict[str, Any] = {}
    quality = Q_QUERY
    missing: list[str] = []
    used: set[str] = set()
    for param in fn.required:
        spec = fn.properties.get(param, {})
        value, q = _fill_param(param, spec, facts, calls, used, alts.get(param, 0), fn.anchor, fn.properties)
        if value is None:
            missing.append(param)
            quality = Q_NONE
            continue
        args[param] = value
        used.add(str(value))
        quality = min(quality, q)
    for param, spec in fn.properties.items():
        if param in args:
            continue
        if extra and param in extra:
            value, q = _fill_param(
                param, spec, facts, calls, used, alts.get(param, 0), fn.anchor, fn.properties
            )
            if value is not None:
                args[param] = value
                used.add(str(value))
            continue
        # optional parameters only when the query (or a chained observation) asks for them
        value = facts.explicit(param, spec, fn.anchor, fn.properties, fn.end)
        if value is None:
            guess = _heuristic(param, spec, facts, used, fn.anchor)
            value = (
                guess if guess is not None and (spec.get("enum") or param.lower() in ("q", "query")) else None
            )
        if value is not None:
            args[param] = value
            used.add(str(value))
    return Fill(args, quality, missing)


# --- the policy ------------------------------------------------------------------------------


class OfflinePolicy:
    """Rule-based :class:`~pipeline.llm.types.ChatModel` for the ``policy`` role (see module doc).

    If the rules themselves fail on a request (a bug), a production run should not lose the
    search: the reply is ``Finish`` with ``give_up_and_restart``, a warning with the exception is
    logged and the failure is counted (``errors`` in :meth:`stats`). With ``strict`` the
    exception propagates instead, so that in tests a bug fails the test rather than looking
    like a hard query.
    """

    def __init__(self, model_name: str = MODEL_NAME, *, strict: bool = False) -> None:
        self.model_name = model_name
        self.strict = strict
        self._requests = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._errors = 0

    def stats(self) -> dict[str, dict[str, Any]]:
        return {
            "policy": {
                "requests": self._requests,
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": self._completion_tokens,
                "cost": 0.0,
                "errors": self._errors,  # requests the rules failed on, answered by giving up
            }
        }

    async def chat(self, request: ChatRequest) -> ChatReply:
        return self.decide(request)

    def decide(self, request: ChatRequest) -> ChatReply:
        seed_text = ""
        try:
            seed_text = json.dumps(
                [
                    request.messages,
                    [
                        t.get("function", t).get("name")
                        if isinstance(t, dict) and isinstance(t.get("function", t), dict)
                        else None
                        for t in request.tools or []
                    ],
                ],
                sort_keys=True,
                default=str,
            )
        except Exception:  # noqa: BLE001 - never raise
            seed_text = repr(request.messages)[:100000]
        seed = hashlib.sha256(f"{seed_text}|{request.sample_index}".encode()).hexdigest()
        try:
            thought, name, arguments = _Decision(request, random.Random(int(seed[:16], 16))).run()
        except Exception as exc:
            if self.strict:
                raise
            # a bug in the rules must not take the search down: give up on this step, loudly
            self._errors += 1
            log.warning("offline policy: the rules failed on a request (%s: %s); answering "
                        "give_up_and_restart", type(exc).__name__, exc, exc_info=True)
            thought = f"Thought: I could not work out a next step ({type(exc).__name__}); I will give up and restart."
            name, arguments = FINISH, {"return_type": "give_up_and_restart"}
        raw_args = json.dumps(arguments, ensure_ascii=False)
        call = ToolCall(
            id=f"call_{hashlib.sha256((seed + name + raw_args).encode()).hexdigest()[:24]}",
            name=name,
            arguments=raw_args,
        )
        prompt_tokens = max(1, len(seed_text) // 4)
        completion_tokens = max(1, (len(thought) + len(name) + len(raw_args)) // 4)
        self._requests += 1
        self._prompt_tokens += prompt_tokens
        self._completion_tokens += completion_tokens
        return ChatReply(
            content=thought,
            tool_calls=[call],
            finish_reason="tool_calls",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            model=self.model_name,
        )


class _Decision:
    def __init__(self, request: ChatRequest, rng: random.Random) -> None:
        self.request = request
        self.rng = rng
        self.sample_index = request.sample_index
        self.functions = [f for f in _parse_functions(request.tools) if f.name.lower() != FINISH.lower()]
        self.finish_name = next(
            (f.name for f in _parse_functions(request.tools) if f.name.lower() == FINISH.lower()), FINISH
        )
        self.query, self.calls, self.diversity = _parse_history(request.messages or [])
        vocabulary = (
            set().union(*(f.api_tokens | f.desc_tokens for f in self.functions)) if self.functions else set()
        )
        self.facts = QueryFacts(self.query, vocabulary)
        # what the query asks for, without the argument values it spells out: "(symbol 'LUMX')"
        # names a parameter, not a function to call
        self.bare = bare = _QUOTED.sub(
            lambda m: " " * len(m.group(0)),
            re.sub(r"\([^)]*['\"\d][^)]*\)", lambda m: " " * len(m.group(0)), self.query),
        )
        positioned = _positioned_tokens(bare) or _positioned_tokens(self.query)
        self.query_tokens = [t for t, _, _ in positioned]
        for fn in self.functions:
            # standardized names are often run together ("getpricehistory"): match query words inside
            compact = re.sub(r"[^a-z0-9]", "", fn.name.partition("_for_")[0].lower())
            fn.api_tokens |= {
                t
                for t, raw, _ in positioned
                if len(raw) >= 4 and (raw in compact or (len(t) >= 4 and t in compact))
            }
            fn.anchor = next(
                (start for t, _, start in positioned if t in fn.api_tokens or t in fn.desc_tokens),
                len(self.query),
            )
        self._relevant = self._cover(positioned)
        self.by_name = {f.name: f for f in self.functions}

    # scoring
    def score(self, fn: Function) -> float:
        qt = set(self.query_tokens)
        return (
            2.0 * len(fn.api_tokens & qt) + 1.0 * len(fn.desc_tokens & qt) + 0.25 * len(fn.tool_tokens & qt)
        )

    def position(self, fn: Function) -> int:
        return fn.anchor

    def relevant(self) -> list[Function]:
        return self._relevant

    def _cover(self, positioned: list[tuple[str, str, int]]) -> list[Function]:
        """Greedy cover of the query tokens by function names and descriptions, in query order.

        A function whose whole name the query spells ("get a reservation" → getreservation) gets
        a bonus; a chosen function is placed (``anchor``) at the first query word it alone
        explains, so "search recipes ..., then search restaurants" keeps its order."""
        uncovered = set(self.query_tokens)
        words = [
            w
            for w in re.findall(r"[a-z0-9]+", self.bare.lower())
            if w not in ("a", "an", "the", "some", "all", "my")
        ]
        spelled: dict[str, int] = {}
        for fn in self.functions:
            compact = re.sub(r"[^a-z0-9]", "", fn.name.partition("_for_")[0].lower())
            for size in (1, 2, 3, 4):
                for i in range(len(words) - size + 1):
                    joined = "".join(words[i : i + size])
                    if len(joined) >= 6 and joined in (compact, compact + "s", compact.rstrip("s")):
                        spelled.setdefault(fn.name, i)
        chosen: list[Function] = []
        gained: dict[str, set[str]] = {}
        pool = list(self.functions)
        while pool and len(chosen) < 5:

            def gain(fn: Function, uncovered: set[str] = uncovered) -> float:
                bonus = 3.0 if fn.name in spelled else 0.0
                return (
                    bonus
                    + 2.0 * len(fn.api_tokens & uncovered)
                    + len((fn.desc_tokens - fn.api_tokens) & uncovered)
                    + 0.01 * self.score(fn)
                )

            best = max(pool, key=lambda f: (gain(f), -self.functions.index(f)))
            if gain(best) < (2.0 if chosen else 1.0):
                break
            chosen.append(best)
            gained[best.name] = (best.api_tokens | best.desc_tokens) & uncovered
            uncovered -= best.api_tokens | best.desc_tokens
            pool.remove(best)
        for fn in chosen:
            shared = set().union(*(o.api_tokens for o in chosen if o is not fn)) if len(chosen) > 1 else set()
            present = set(self.query_tokens)
            options = [
                fn.api_tokens - shared,
                gained[fn.name] - shared,
                gained[fn.name],
                fn.api_tokens | fn.desc_tokens,
            ]
            own = next((o & present for o in options if o & present), set())
            fn.anchor = next((start for t, _, start in positioned if t in own), fn.anchor)
        ordered = sorted(chosen, key=lambda f: (f.anchor, -self.score(f)))
        for fn, following in itertools.pairwise(ordered):
            fn.end = max(following.anchor, fn.anchor + 1)
        return ordered

    # history helpers
    def failures(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name and c.ok is False]

    def succeeded(self, name: str) -> bool:
        return any(c.name == name and c.ok for c in self.calls)

    def tried_in_diversity(self) -> set[str]:
        if not self.diversity:
            return set()
        tried = set()
        for fn in self.functions:
            if re.search(rf"(?<![\w]){re.escape(fn.name)}(?![\w])", self.diversity):
                tried.add(fn.name)
        return tried

    def run(self) -> tuple[str, str, dict[str, Any]]:
        tool_calls = [c for c in self.calls if c.name.lower() != FINISH.lower()]
        if not self.functions:
            return self.give_up("I have no functions to call for this task")
        if len(tool_calls) >= MAX_CALLS:
            return self.finish_or_give_up("I have made many calls already")
        last = self.calls[-1] if self.calls else None
        if last is not None and last.ok is False and last.name in self.by_name:
            retry = self.retry(last)
            if retry is not None:
                return retry
        return self.next_call()

    def retry(self, last: Call) -> tuple[str, str, dict[str, Any]] | None:
        fn = self.by_name[last.name]
        if len(self.failures(fn.name)) >= MAX_FAILURES or fn.name in self.tried_in_diversity():
            return None
        error = last.error or ""
        low = error.lower()
        args = dict(last.arguments)
        named = [m for m in re.findall(r"['\"`]([A-Za-z_][\w.-]*)['\"`]", error)]
        params_named = [p for p in named if p in fn.properties or p in args]
        note = ""
        m_missing = re.search(
            r"missing (?:required )?(?:argument|parameter|field)s?\s*:?\s*['\"`]?([A-Za-z_][\w-]*)",
            error,
            re.IGNORECASE,
        ) or re.search(r"['\"`]?([A-Za-z_][\w-]*)['\"`]? is (?:a )?required", error, re.IGNORECASE)
        m_enum = re.search(
            r"must be one of\s*\[([^\]]*)\]|must be one of\s*\(([^)]*)\)|must be one of\s*([^,;]+(?:,[^,;]+)*)",
            error,
            re.IGNORECASE,
        )
        m_unexpected = re.search(
            r"(?:unexpected|unknown|unrecognized) (?:keyword )?(?:argument|parameter|field)s?\s*:?\s*['\"`]?([A-Za-z_][\w-]*)",
            error,
            re.IGNORECASE,
        )
        if m_missing:
            param = m_missing.group(1)
            spec = fn.properties.get(param, {})
            value, _ = _fill_param(param, spec, self.facts, self.calls, {str(v) for v in args.values()})
            if value is None:
                value = _bank(param, spec, 0)
            if value is None and spec:
                value = _doc_values(spec)[0] if _doc_values(spec) else None
            if value is None:
                return None
            args[param] = value
            note = f"the call lacked '{param}', so I add {param}={json.dumps(value, ensure_ascii=False)}"
        elif m_unexpected and m_unexpected.group(1) in args:
            param = m_unexpected.group(1)
            args.pop(param)
            note = f"'{param}' is not accepted, so I drop it"
        elif m_enum:
            param = next((p for p in params_named if p in fn.properties), None) or next(
                (p for p in args if fn.properties.get(p, {}).get("enum")), None
            )
            listed = m_enum.group(1) or m_enum.group(2) or m_enum.group(3) or ""
            members = [s.strip().strip("'\"` ") for s in listed.split(",") if s.strip().strip("'\"` ")]
            spec = fn.properties.get(param or "", {})
            if isinstance(spec.get("enum"), list) and spec["enum"]:
                members = [m for m in spec["enum"]] or members
            if not param or not members:
                return None
            current = args.get(param)
            in_query = [
                m
                for m in members
                if re.search(rf"(?<![\w-]){re.escape(str(m))}(?![\w-])", self.query, re.IGNORECASE)
            ]
            others = [m for m in in_query + members if str(m) != str(current)]
            if not others:
                return None
            args[param] = _coerce(others[0], spec) if spec else others[0]
            note = f"'{param}' must be one of the listed values, so I use {json.dumps(args[param], ensure_ascii=False)}"
        elif re.search(r"must be (?:an? )?(integer|number|boolean|string|array|object)", low):
            param = next((p for p in params_named if p in args), None) or next(
                (p for p in args if p in low), None
            )
            if not param:
                return None
            spec = fn.properties.get(param) or {"type": re.search(r"must be (?:an? )?(\w+)", low).group(1)}
            value = _coerce(args[param], spec)
            if value is None or value == args[param]:
                value, _ = _fill_param(param, spec, self.facts, self.calls, set())
            if value is None or value == args[param]:
                value = _bank(param, spec, 0)
            if value is None:
                return None
            args[param] = value
            note = f"'{param}' had the wrong type, so I send {json.dumps(value, ensure_ascii=False)}"
        else:
            # not found, out of range, or an error we cannot read: try other values for the
            # parameter it names (or the id-like / first required ones)
            target = (
                [p for p in params_named if p in fn.properties]
                or [p for p in args if str(args[p]) and str(args[p]).lower() in low]
                or [p for p in fn.required if re.search(r"(id|code|symbol|name|q|query)$", p)]
                or list(fn.required)
            )
            if not target:
                return None
            attempt = len(self.failures(fn.name))
            changed = False
            for param in target[:2]:
                spec = fn.properties.get(param, {})
                for alt in range(1, 6):
                    value, _ = _fill_param(param, spec, self.facts, self.calls, set(), alt=alt + attempt - 1)
                    if value is None:
                        break
                    if value != args.get(param):
                        args[param] = value
                        changed = True
                        break
            if not changed:
                return None
            reason = "was not found" if re.search(r"not found|404", low) else "was rejected"
            note = f"the value {reason}, so I try {', '.join(f'{p}={json.dumps(args[p], ensure_ascii=False)}' for p in target[:2] if p in args)}"
        previous = [c.arguments for c in self.failures(fn.name)]
        if args in previous:
            return None
        return (
            f"Thought: the call to {fn.name} failed ({_short(error)}); {note} and call it again.",
            fn.name,
            args,
        )

    def next_call(self) -> tuple[str, str, dict[str, Any]]:
        relevant = self.relevant()
        tried = self.tried_in_diversity()
        exhausted = {f.name for f in self.functions if len(self.failures(f.name)) >= MAX_FAILURES}

        def available(fn: Function) -> bool:
            return not self.succeeded(fn.name) and fn.name not in exhausted and fn.name not in tried

        candidates: list[tuple[Function, Fill]] = []
        for fn in relevant:
            if available(fn):
                fill = _fill(fn, self.facts, self.calls, self.alternatives(fn))
                if fill.quality > Q_NONE:
                    candidates.append((fn, fill))
        rel_names = {f.name for f in relevant}
        pending = [f for f in relevant if not self.succeeded(f.name)]
        if not candidates and not pending and any(self.succeeded(f.name) for f in relevant):
            return self.answer()
        if not candidates:
            # fallback: other functions that share words with the query, not tried yet
            others = sorted(
                (
                    f
                    for f in self.functions
                    if f.name not in rel_names
                    and available(f)
                    and not any(c.name == f.name for c in self.calls)
                    and self.score(f) > 0
                ),
                key=lambda f: (-self.score(f), self.functions.index(f)),
            )
            for fn in others:
                fill = _fill(fn, self.facts, self.calls)
                if fill.quality >= Q_DOC:
                    candidates.append((fn, fill))
            if not candidates:
                # parts that failed for good but were stood in for by a related function that worked
                substituted = any(self.succeeded(f.name) for f in self.functions if f.name not in rel_names)
                if (
                    relevant
                    and substituted
                    and all(self.succeeded(f.name) or f.name in exhausted for f in relevant)
                ):
                    return self.answer()
                return self.give_up(
                    "none of the remaining functions can be called with what I know"
                    if self.functions
                    else "I have no functions"
                )
            fallback = True
        else:
            fallback = False
        index = 0
        if self.sample_index > 0 and len(candidates) > 1:
            top = candidates[: min(3, len(candidates))]
            index = self.rng.choices(range(len(top)), weights=[3, 2, 1][: len(top)])[0]
        fn, fill = candidates[index]
        return (self.thought(fn, fill, fallback, bool(tried)), fn.name, fill.arguments)

    def alternatives(self, fn: Function) -> dict[str, int]:
        """After a failure of ``fn`` that a retry did not fix, ask for other values."""
        n = len(self.failures(fn.name))
        return {p: n for p in fn.required} if n else {}

    def thought(self, fn: Function, fill: Fill, fallback: bool, diverse: bool) -> str:
        what = _humanise(fn.name.partition("_for_")[0]) or fn.name
        facts = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in list(fill.arguments.items())[:4]
        )
        subject = _short(self.query, 90)
        lead = (
            "Earlier attempts from this state did not work, so I try something different: " if diverse else ""
        )
        why = (
            "none of the functions that match the request directly worked, so I try a related one"
            if fallback
            else f'the user asks: "{subject}"'
        )
        with_args = f" with {facts}" if facts else ""
        return f"Thought: {lead}{why}; next I need to {what}, so I will call {fn.name}{with_args}."

    def answer(self) -> tuple[str, str, dict[str, Any]]:
        parts = []
        for call in self.calls:
            if call.ok and call.name in self.by_name:
                summary = _summarise(call.response)
                label = _humanise(call.name.partition("_for_")[0])
                parts.append(f"{label}: {summary}" if summary else f"{label}: done")
        text = (
            "Here is what I found. " + "; ".join(parts) + "." if parts else "The requested calls completed."
        )
        text = _short(text, 900)
        return (
            "Thought: I have the results for every part of the request, so I will give the final answer.",
            self.finish_name,
            {"return_type": "give_answer", "final_answer": text},
        )

    def finish_or_give_up(self, why: str) -> tuple[str, str, dict[str, Any]]:
        if any(c.ok for c in self.calls if c.name in self.by_name):
            return self.answer()
        return self.give_up(why)

    def give_up(self, why: str) -> tuple[str, str, dict[str, Any]]:
        return (
            f"Thought: {why}; I will give up and restart.",
            self.finish_name,
            {"return_type": "give_up_and_restart"},
        )


_FACT_KEYS = (
    "name",
    "title",
    "city",
    "country",
    "symbol",
    "price",
    "temperature",
    "temp",
    "value",
    "rate",
    "result",
    "amount",
    "total",
    "status",
    "date",
    "id",
)


def _summarise(response: Any, limit: int = 6) -> str:
    """The first scalar facts of a response: preferred keys first, lists by their first item."""
    if response is None:
        return ""
    if isinstance(response, (str, int, float, bool)):
        return _short(str(response), 160)
    leaves: list[tuple[tuple[str, ...], Any]] = []
    _walk(response, (), leaves)
    count = None
    if isinstance(response, dict):
        for v in response.values():
            if isinstance(v, list):
                count = len(v)
                break
    elif isinstance(response, list):
        count = len(response)
    chosen: list[str] = []
    seen_keys: set[str] = set()

    def rank(item: tuple[tuple[str, ...], Any]) -> tuple[int, int]:
        path, _ = item
        key = path[-1] if path else ""
        pref = next((i for i, k in enumerate(_FACT_KEYS) if k in key), len(_FACT_KEYS))
        return (path.count("[]"), pref)

    for path, value in sorted(leaves, key=rank):
        key = path[-1] if path else "value"
        if key in seen_keys or value in (None, "") or isinstance(value, str) and len(value) > 80:
            continue
        seen_keys.add(key)
        chosen.append(f"{key} {value}")
        if len(chosen) >= limit:
            break
    head = f"{count} results, first: " if count is not None and count != 1 else ""
    return head + ", ".join(chosen)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
