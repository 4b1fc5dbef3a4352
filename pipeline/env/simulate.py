"""Simulated API responses for tools with no reachable server (rule-based, deterministic).

StableToolBench answers a call it cannot make for real by asking an LLM to play the API server.
:class:`ResponseSimulator` is the offline counterpart: it builds a response from what the
catalog says an API returns, in this order —

1. ``api.response_example``, *adapted*: where the example (or an item of one of its lists) has a
   field named like an argument, the argument's value is put there (see "echo" below);
2. ``api.response_schema``: a value generated to validate against the schema (JSON Schema
   2020-12), plausible for each property's name, format and description (ids, names, cities,
   emails, URLs, ISO dates in a fixed 2025 reference period, coordinates, prices with 2
   decimals, currency codes, ratings 0–5 ...), honouring ``enum``, ``const``, ``default``,
   bounds, lengths, ``pattern``, item counts, ``required``, ``anyOf``/``oneOf``/``allOf``, type
   lists (the non-null type is preferred) and ``additionalProperties``; a bare
   ``{"x-truncated": true}`` subtree (cut by the catalog's size limits) becomes ``{}``;
3. ``api.template_response`` (ToolBench's type skeleton ``{"id": "int", "items": [{...,
   "_list_length": 3}]}``): turned into a JSON Schema with exact list lengths
   (:func:`schema_from_template`) and generated the same way, so ``_list_length`` is honoured
   (up to 50) and never appears in the output;
4. nothing usable: ``{"message": "<api name> completed", "arguments": <the arguments>}`` — an
   acknowledgement that still shows the call, so different calls get different answers.

Plausibility, beyond validity: the fields of one object share a place and a person (a city's
``country_code`` and coordinates match it; ``first_name``, ``last_name`` and ``email`` belong
together; a flight's destination differs from its origin); the ``name`` of a ``city``,
``director`` or ``airline`` object (or of the records of ``search_cities``) is a city, person or
company; ends come after starts and agree with ``duration_minutes``; ``total`` is at least the
number of listed items plus the offset; acknowledgement flags (``deleted``, ``success`` ...)
are true; ids keep the look of the schema's example (``"ORD-700002"`` → ``"ORD-418305"``);
scalar lists avoid repeats. The first record of a list may use the schema's ``example`` for
names and texts; later ones get generated values.

Echo. A simulated answer should agree with the call: in "record" objects — the root object,
objects directly under it, and the items of arrays found there (e.g. ``results[i]``) — a field
whose name equals an argument's name (compared as snake_case, so ``cityId`` ≡ ``city_id``) gets
the argument's value when it fits the field's type (numeric strings and numbers are coerced).
Two aliases, kept deliberately few: a search argument (``q``, ``query``, ``search``,
``keyword(s)``, ``term``, ``search_term``) fills ``name`` / ``title`` (the first record gets it
verbatim, later list items ``"<query> <generated>"``); a single ``<thing>_id`` argument fills the
``id`` of a single (non-list) root record. Coordinates (``lat``/``lon``) are a search centre and
are not copied into list items. A page-size argument (``limit``, ``per_page``, ``page_size``,
``max_results`` ...) shortens record lists to at most that many items, and ``min_<x>`` /
``max_<x>`` (or ``<x>_min`` / ``<x>_max``) arguments keep the records' numeric ``<x>`` fields
(``price``, ``price_from``, ``stars`` ...) inside the asked range when the schema allows it.

Determinism. The random source is seeded from ``sha256(seed, tool id, API id, canonical
arguments)``: the same call gives the same response in every process and run, different
arguments give a different one (ids, numbers, names all move), a different seed another. No
wall clock is read: dates fall in 2025.

Safety. Generation is bounded (``max_nodes`` values, ``max_depth`` nesting) and never raises on
odd schemas (empty, ``true``/``false``, self-referencing dicts, huge enums, contradictory
bounds): past the budget only what validation requires is produced; if anything unexpected
still goes wrong the generic response of rule 4 is returned and a warning logged.

Beside this simulator an LLM-played one (StableToolBench's "imagine you are an API server",
with up to ``examples_in_prompt`` cached responses of the same API in the prompt) will sit
behind the model layer. Both satisfy :class:`Simulator`, whose method is ``async`` because a
model call is; the rule-based simulator is pure CPU work well under a millisecond, so it also
offers a plain synchronous :meth:`ResponseSimulator.simulate` and its async method just calls it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from pipeline.canonical import canonical_arguments, canonical_value
from pipeline.env.observation import Observation
from pipeline.models import Api, Tool
from pipeline.safe_regex import ATOMIC_GROUP, REPEATS, parse_pattern, pattern_allows
from pipeline.safe_regex import sre as _sre_c
from pipeline.schema_values import (
    MISSING,
    coerce,
    declared_types,
    fits_schema,
    has_type,
    is_multiple_of,
    is_number,
    json_type,
    number_fits,
    same_value,
    string_fits,
)
from pipeline.settings import SimulationSettings

log = logging.getLogger(__name__)

ResponseSource = Literal["example", "schema", "template", "generic"]

MAX_NODES = 2000
MAX_DEPTH = 16
_HARD_NODES_FACTOR = 2  # past the budget, required-only values may spend this much more
_MAX_PROPERTIES = 200
_MAX_ENUM_SCAN = 500
_MAX_LIST = 50
_REFERENCE_START = _dt.datetime(2025, 1, 1, tzinfo=_dt.timezone.utc)
_REFERENCE_DAYS = 365


@runtime_checkable
class Simulator(Protocol):
    """Something that can play an API server for one call.

    ``examples`` are earlier (arguments, observation) pairs of the same API, most recent first,
    as :meth:`pipeline.env.cache.ResponseCache.examples` returns them; an LLM-backed simulator
    shows them in its prompt, the rule-based one ignores them. ``mode`` is what its own answers
    are marked with (a stand-in answer from a fallback carries another mode).
    """

    mode: str

    async def asimulate(
        self,
        tool: Tool,
        api: Api,
        arguments: dict[str, Any],
        *,
        examples: Sequence[tuple[dict[str, Any], Observation]] = (),
    ) -> Observation: ...


def response_source(api: Api) -> ResponseSource:
    """Which of the API's response descriptions the rule-based simulator uses."""
    if _usable_example(api.response_example) is not MISSING:
        return "example"
    if _informative_schema(api.response_schema):
        return "schema"
    if api.template_response not in (None, "", {}, []):
        return "template"
    return "generic"


class ResponseSimulator:
    """Deterministic, rule-based API responses (see the module docstring for the rules)."""

    mode = "simulated"

    def __init__(
        self,
        settings: SimulationSettings | None = None,
        *,
        seed: int = 0,
        max_nodes: int = MAX_NODES,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.settings = settings or SimulationSettings()
        self.seed = seed
        self.max_nodes = max_nodes
        self.max_depth = max_depth

    def simulate(self, tool: Tool, api: Api, arguments: dict[str, Any] | None) -> Observation:
        started = time.perf_counter()
        arguments = arguments if arguments is not None else {}
        try:
            response = self._response(tool, api, arguments)
        except Exception as error:  # noqa: BLE001 - a simulator bug must not end a search
            log.warning("simulating %s/%s failed (%s: %s); answering generically",
                        _tool_key(tool), _api_key(api), type(error).__name__, error)
            response = _generic(api, arguments)
        elapsed = (time.perf_counter() - started) * 1000
        return Observation(error="", response=response, status=None, mode="simulated",
                           elapsed_ms=round(elapsed, 3))

    async def asimulate(
        self,
        tool: Tool,
        api: Api,
        arguments: dict[str, Any],
        *,
        examples: Sequence[tuple[dict[str, Any], Observation]] = (),
    ) -> Observation:
        return self.simulate(tool, api, arguments)

    def rng_for(self, tool: Tool, api: Api, arguments: Any) -> random.Random:
        """The random source of one call: a function of seed, tool, API and arguments only."""
        try:
            canonical = canonical_arguments(arguments)
        except (TypeError, ValueError):
            canonical = repr(arguments)
        material = "\x1f".join((str(self.seed), _tool_key(tool), _api_key(api), canonical))
        digest = hashlib.sha256(material.encode("utf-8")).digest()
        return random.Random(int.from_bytes(digest[:16], "big"))

    def _response(self, tool: Tool, api: Api, arguments: dict[str, Any]) -> Any:
        source = response_source(api)
        if source == "generic":
            return _generic(api, arguments)
        run = _Run(self.rng_for(tool, api, arguments), _Echo(arguments), self.settings.list_length,
                   self.max_nodes, self.max_depth)
        if source == "example":
            return run.adapt_example(_usable_example(api.response_example))
        if source == "schema":
            return run.generate(api.response_schema, _entity_of(_tokens(_api_key(api))))
        schema = schema_from_template(api.template_response, max_nodes=self.max_nodes,
                                      max_depth=self.max_depth)
        return run.generate(schema, _entity_of(_tokens(_api_key(api))))


def _tool_key(tool: Tool) -> str:
    return tool.id or tool.standardized_name or tool.tool_name


def _api_key(api: Api) -> str:
    return api.id or api.name


def _generic(api: Api, arguments: Any) -> dict[str, Any]:
    return {"message": f"{api.name} completed", "arguments": _json_copy(arguments, [500], 0)}


def _usable_example(example: Any) -> Any:
    if example is None or example == "":
        return MISSING
    if isinstance(example, str):
        text = example.strip()
        if text[:1] in ("{", "["):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return example
    return example


_SCHEMA_CONTENT = ("type", "properties", "items", "prefixItems", "anyOf", "oneOf", "allOf", "enum",
                   "const", "additionalProperties", "required", "format", "pattern")


def _informative_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and any(key in schema for key in _SCHEMA_CONTENT)


def _json_copy(value: Any, budget: list[int], depth: int) -> Any:
    """A bounded copy of a JSON value (examples and arguments are never mutated in place)."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {str(k): _json_copy(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_copy(v, budget, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# --------------------------------------------------------------------------------------------
# ToolBench template_response → JSON Schema


_TEMPLATE_TYPES = {
    "str": "string", "string": "string", "int": "integer", "integer": "integer",
    "float": "number", "number": "number", "bool": "boolean", "boolean": "boolean",
    "nonetype": "null", "none": "null", "null": "null", "list": "array", "array": "array",
    "dict": "object", "object": "object",
}


_LIST_OF = re.compile(r"list of (\w+) with length (\d+)", re.IGNORECASE)


def schema_from_template(
    template: Any, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """The JSON Schema a ToolBench ``template_response`` describes.

    Objects require all their keys (``_list_length`` excepted); a list's first element is the
    item skeleton and its ``_list_length`` (ToolBench's observed length, capped at 50) fixes the
    item count, as does ToolBench's other form ``["list of str with length 5"]``;
    type names are ``str``/``int``/``float``/``bool``/``NoneType`` (JSON names accepted too);
    any other string (``"..."`` marks a cut) is a string. Bounded by ``max_nodes``/``max_depth``.
    """
    remaining = [max_nodes]

    def walk(node: Any, depth: int) -> dict[str, Any]:
        remaining[0] -= 1
        if remaining[0] < 0 or depth > max_depth:
            return {"x-truncated": True}
        if isinstance(node, dict):
            properties = {str(k): walk(v, depth + 1) for k, v in list(node.items())[:_MAX_PROPERTIES]
                          if k != "_list_length"}
            return {"type": "object", "properties": properties, "required": list(properties)}
        if isinstance(node, list):
            if not node:
                return {"type": "array", "maxItems": 0}
            first = node[0]
            described = _LIST_OF.fullmatch(first.strip()) if isinstance(first, str) else None
            if described:  # ToolBench also writes ["list of str with length 5"]
                first = described.group(1)
            schema: dict[str, Any] = {"type": "array", "items": walk(first, depth + 1)}
            length = first.get("_list_length") if isinstance(first, dict) else None
            if described:
                length = int(described.group(2)[:6])
            if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
                length = min(length, _MAX_LIST)
                schema["minItems"] = schema["maxItems"] = length
            return schema
        if isinstance(node, str):
            if node.strip() in ("...", "…"):
                return {}
            return {"type": _TEMPLATE_TYPES.get(node.strip().lower(), "string")}
        if isinstance(node, bool):
            return {"type": "boolean"}
        if isinstance(node, int):
            return {"type": "integer"}
        if isinstance(node, float):
            return {"type": "number"}
        if node is None:
            return {"type": "null"}
        return {}

    return walk(template, 0)


# --------------------------------------------------------------------------------------------
# Echo: arguments that reappear in the response


_QUERY_ARGS = ("q", "query", "search", "keyword", "keywords", "term", "search_term", "search_query")
_QUERY_TARGETS = ("name", "title")
_LIMIT_ARGS = ("limit", "per_page", "page_size", "pagesize", "max_results", "num_results", "size",
               "top", "count", "n")
_CENTRE_ARGS = frozenset({"lat", "lon", "lng", "latitude", "longitude"})
_BOUND_ARG = re.compile(r"^(?:(min|max|minimum|maximum)_(.+)|(.+)_(min|max))$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=8192)
def _snake(name: str) -> str:
    return _NON_ALNUM.sub("_", _CAMEL.sub("_", name).lower()).strip("_")


@lru_cache(maxsize=8192)
def _tokens(name: str) -> tuple[str, ...]:
    return tuple(t for t in _snake(name).split("_") if t)


@dataclass(frozen=True)
class _Scope:
    hops: int | None  # object-property hops from the root; None = too deep to echo into
    in_array: bool = False
    index: int = 0
    in_record: bool = False  # a field (or item of a field) of a record object


class _Echo:
    def __init__(self, arguments: Any) -> None:
        args = arguments if isinstance(arguments, dict) else {}
        self.by_name: dict[str, Any] = {}
        for key, value in args.items():
            if isinstance(key, str) and value is not None and value != "":
                self.by_name.setdefault(_snake(key), value)
        self.query = next((v.strip() for k in _QUERY_ARGS
                           if isinstance(v := self.by_name.get(k), str) and v.strip()), None)
        id_args = [v for k, v in self.by_name.items() if k.endswith("_id") and _is_scalar(v)]
        self.single_id = id_args[0] if len(id_args) == 1 else MISSING
        self.limit = next((v for k in _LIMIT_ARGS if isinstance(v := self.by_name.get(k), int)
                           and not isinstance(v, bool) and v >= 0), None)
        # min_price=5, max_price=20 → the "price" numbers of the records fall in [5, 20]
        self.bounds: dict[frozenset[str], list[float | None]] = {}
        for key, value in self.by_name.items():
            match = _BOUND_ARG.match(key) if key not in _LIMIT_ARGS else None
            if match is None or not is_number(value) or not math.isfinite(value):
                continue
            which = match.group(1) or match.group(4)
            subject = frozenset(t for t in (match.group(2) or match.group(3)).split("_") if t)
            if subject:
                slot = self.bounds.setdefault(subject, [None, None])
                slot[0 if which.startswith("min") else 1] = value

    def preferred_range(
        self, tokens: Sequence[str], scope: _Scope, low: float, high: float
    ) -> tuple[float, float]:
        """The plausible range ``[low, high]`` narrowed by the call's min_/max_ arguments (the
        schema's own bounds are applied after, so they still win)."""
        if not scope.in_record or not self.bounds:
            return low, high
        words = set(tokens)
        for subject, (floor, ceiling) in self.bounds.items():
            if not subject <= words:
                continue
            span = max(high - low, 1.0)
            if floor is not None:
                low = max(low, floor)
            if ceiling is not None:
                high = min(high, ceiling)
            if low > high:  # the arguments lie outside the usual range: follow them
                if floor is not None and ceiling is not None:
                    low, high = min(floor, ceiling), max(floor, ceiling)
                elif floor is not None:
                    low, high = floor, floor + span
                elif ceiling is not None:
                    low, high = ceiling - span, ceiling
        return low, high

    def candidates(self, field: str, scope: _Scope) -> list[Any]:
        if scope.hops is None or scope.hops > 1:
            return []
        key = _snake(field)
        found: list[Any] = []
        # ids tell a list's records apart, and a search centre is not where each result is
        if key in self.by_name and not (scope.in_array and (key in _CENTRE_ARGS or key == "id")):
            found.append(self.by_name[key])
        if key == "id" and scope.hops == 0 and not scope.in_array and self.single_id is not MISSING:
            found.append(self.single_id)
        return found


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


# --------------------------------------------------------------------------------------------
# Vocabulary: plausible values by field name


# city, country, ISO 3166 code, lat, lon, time zone, IATA, currency, calling code
_PLACES: tuple[tuple[str, str, str, float, float, str, str, str, str], ...] = (
    ("Paris", "France", "FR", 48.8566, 2.3522, "Europe/Paris", "CDG", "EUR", "+33"),
    ("London", "United Kingdom", "GB", 51.5074, -0.1278, "Europe/London", "LHR", "GBP", "+44"),
    ("New York", "United States", "US", 40.7128, -74.006, "America/New_York", "JFK", "USD", "+1"),
    ("Tokyo", "Japan", "JP", 35.6762, 139.6503, "Asia/Tokyo", "HND", "JPY", "+81"),
    ("Berlin", "Germany", "DE", 52.52, 13.405, "Europe/Berlin", "BER", "EUR", "+49"),
    ("Madrid", "Spain", "ES", 40.4168, -3.7038, "Europe/Madrid", "MAD", "EUR", "+34"),
    ("Rome", "Italy", "IT", 41.9028, 12.4964, "Europe/Rome", "FCO", "EUR", "+39"),
    ("Sydney", "Australia", "AU", -33.8688, 151.2093, "Australia/Sydney", "SYD", "AUD", "+61"),
    ("Toronto", "Canada", "CA", 43.6532, -79.3832, "America/Toronto", "YYZ", "CAD", "+1"),
    ("Amsterdam", "Netherlands", "NL", 52.3676, 4.9041, "Europe/Amsterdam", "AMS", "EUR", "+31"),
    ("Lisbon", "Portugal", "PT", 38.7223, -9.1393, "Europe/Lisbon", "LIS", "EUR", "+351"),
    ("Seoul", "South Korea", "KR", 37.5665, 126.978, "Asia/Seoul", "ICN", "KRW", "+82"),
    ("Mexico City", "Mexico", "MX", 19.4326, -99.1332, "America/Mexico_City", "MEX", "MXN", "+52"),
    ("Mumbai", "India", "IN", 19.076, 72.8777, "Asia/Kolkata", "BOM", "INR", "+91"),
    ("Cape Town", "South Africa", "ZA", -33.9249, 18.4241, "Africa/Johannesburg", "CPT", "ZAR", "+27"),
    ("Zurich", "Switzerland", "CH", 47.3769, 8.5417, "Europe/Zurich", "ZRH", "CHF", "+41"),
)
_FIRST = ("Alex", "Maria", "James", "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia",
          "Ethan", "Chloe", "Daniel", "Hannah", "Mateo", "Yuki", "Amara", "Leila", "Jonas", "Priya")
_LAST = ("Morgan", "Garcia", "Smith", "Rossi", "Dubois", "Tanaka", "Kim", "Silva", "Nguyen", "Patel",
         "Johnson", "Kowalski", "Larsen", "Okafor", "Brown", "Martin", "Costa", "Novak", "Schmidt", "Lee")
_ADJECTIVES = ("Golden", "Blue", "Green", "Silver", "Royal", "Little", "Grand", "Old", "North", "Sunny",
               "Quiet", "Urban", "Bright", "Wild", "Hidden", "Central")
_NOUNS = ("Harbor", "Garden", "Lantern", "Table", "Oak", "River", "Corner", "Bay", "Bistro", "Market",
          "Studio", "Park", "Bridge", "Orchard", "Summit", "Square")
_COMPANY_SUFFIXES = ("Group", "Labs", "Systems", "Holdings", "Partners", "Works", "Co.", "International")
_SENTENCES = (
    "A popular choice with consistently good reviews.",
    "Recently updated with new details.",
    "Well located and easy to reach by public transport.",
    "Available for a limited time only.",
    "Includes everything needed to get started.",
    "Rated highly by visitors for quality and value.",
    "Offers a relaxed atmosphere and friendly service.",
    "A classic option that rarely disappoints.",
)
_COLOURS = ("red", "blue", "green", "black", "white", "silver", "yellow", "navy")
_LANGUAGES = ("en", "es", "fr", "de", "it", "ja", "pt", "nl")
_WORDS_BY_TOKEN = {
    "genre": ("Drama", "Comedy", "Thriller", "Documentary", "Animation", "Science Fiction"),
    "cuisine": ("italian", "french", "japanese", "mexican", "indian", "thai"),
    "industry": ("Technology", "Healthcare", "Energy", "Retail", "Financial Services", "Media"),
    "sector": ("Technology", "Healthcare", "Energy", "Consumer Goods", "Financials", "Industrials"),
    "category": ("general", "featured", "popular", "new", "classic", "premium"),
    "type": ("standard", "premium", "basic", "extended"),
    "kind": ("standard", "premium", "basic", "extended"),
    "status": ("active", "confirmed", "pending", "completed"),
    "state": ("active", "confirmed", "pending", "completed"),
    "unit": ("kg", "g", "ml", "pcs"),
    "units": ("metric", "imperial"),
    "gender": ("female", "male", "non-binary"),
    "department": ("Sales", "Engineering", "Support", "Marketing"),
    "amenity": ("wifi", "parking", "pool", "gym", "breakfast", "spa"),
    "tag": ("new", "popular", "featured", "limited", "classic"),
    "feature": ("wifi", "parking", "air conditioning", "accessible", "pet friendly"),
    "ingredient": ("tomato", "onion", "garlic", "olive oil", "basil", "chickpeas", "rice"),
    "day": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
}
_PERSON_TOKENS = {"author", "director", "guest", "customer", "player", "coach", "referee", "ceo",
                  "owner", "user", "artist", "driver", "contact", "passenger", "person", "sender",
                  "recipient", "manager", "founder", "actor", "host", "organizer", "organiser",
                  "attendee", "member", "employee", "reviewer", "traveler", "traveller", "holder"}
_EMAIL_NAMES = {"from", "to", "cc", "bcc", "recipient", "recipients", "attendee", "attendees", "sender",
                "reply_to"}
_URL_TOKENS = {"url", "uri", "link", "href", "website", "homepage", "image", "photo", "avatar",
               "thumbnail", "logo", "picture", "poster", "icon", "src"}
_TEXT_TOKENS = {"description", "overview", "biography", "bio", "summary", "snippet", "notes", "note",
                "body", "text", "content", "message", "advice", "comment", "review", "details",
                "instructions", "translation", "excerpt", "caption", "reason", "remarks", "about",
                "tagline", "plot", "preview"}
_TITLE_TOKENS = {"title", "subject", "headline", "label"}
_COMPANY_TOKENS = {"company", "brand", "airline", "manufacturer", "publisher", "studio", "vendor",
                   "merchant", "carrier", "organization", "organisation", "employer", "operator"}
_ID_LAST_TOKENS = {"id", "ids", "uuid", "guid", "ref", "sku", "isbn", "reference", "key", "token",
                   "slug", "hash", "number", "no", "code"}
_DATETIME_TOKENS = {"timestamp", "datetime", "created", "updated", "update", "modified", "published"}


@lru_cache(maxsize=8192)
def _string_kind(tokens: tuple[str, ...], description: str) -> str | None:
    """What a string field named ``tokens`` most plausibly holds."""
    if not tokens:
        return _kind_from_description(description)
    last, words = tokens[-1], set(tokens)
    name = "_".join(tokens)
    if "email" in words or "mail" == last or name in _EMAIL_NAMES:
        return "email"
    if words & _URL_TOKENS:
        return "url"
    if name in ("next", "previous", "prev", "next_page", "previous_page", "prev_page"):
        return "page"
    if words & {"phone", "mobile", "tel", "telephone", "fax"}:
        return "phone"
    if "uuid" in words or "guid" in words:
        return "uuid"
    if "timezone" in words or {"time", "zone"} <= words or last == "tz":
        return "timezone"
    if last == "at" or words & _DATETIME_TOKENS or name in ("as_of", "since", "until"):
        return "date-time"
    if last in ("date", "birthday", "dob") or name in ("day",):
        return "date"
    if last in ("time", "hour") or name in ("opens", "closes"):
        return "clock"
    if "iata" in words or "airport" in words:
        return "iata"
    if "country" in words and ("code" in words or "iso" in words or "iso2" in words):
        return "country_code"
    if "currency" in words or "currencies" in words:
        return "currency"
    if {"calling", "dial", "dialing"} & words:
        return "calling_code"
    if words & {"language", "lang", "locale", "languages"}:
        return "language"
    if words & {"postal", "zip", "postcode", "zipcode"}:
        return "postal_code"
    if words & {"symbol", "ticker"}:
        return "ticker"
    if words & {"country", "nationality"}:
        return "country"
    if words & {"city", "capital", "town", "birthplace", "hometown"} or name in ("location",):
        return "city"
    if words & {"address", "street", "line1", "line2"}:
        return "address"
    if words & {"region", "province", "county"}:
        return "region"
    if {"first", "name"} <= words or {"given", "name"} <= words or name in ("first_name", "firstname"):
        return "first_name"
    if {"last", "name"} <= words or {"family", "name"} <= words or "surname" in words or name == "lastname":
        return "last_name"
    if "username" in words or name in ("handle", "login"):
        return "username"
    if words & _PERSON_TOKENS and (last == "name" or last in _PERSON_TOKENS):
        return "person"
    if words & _COMPANY_TOKENS and last not in ("id", "code"):
        return "company"
    if last in _ID_LAST_TOKENS or name == "id":
        return "id"
    if words & _TITLE_TOKENS:
        return "title"
    if words & _TEXT_TOKENS:
        return "text"
    if last == "name":
        return "name"
    if words & {"color", "colour", "colours", "colors"}:
        return "colour"
    if last in ("season", "year"):
        return "year"
    singular = _singular(last)
    if singular in _WORDS_BY_TOKEN:
        return "word:" + singular
    return _kind_from_description(description)


def _kind_from_description(description: str) -> str | None:
    text = description.lower()
    if not text:
        return None
    if "iata" in text:
        return "iata"
    if "iso 4217" in text or "currency code" in text:
        return "currency"
    if "iso 3166" in text or "country code" in text:
        return "country_code"
    if "e-mail" in text or "email address" in text:
        return "email"
    if "url" in text.split() or "link to" in text:
        return "url"
    return None


_CURRENCY_CODES = frozenset({p[7] for p in _PLACES} | {"CNY", "SEK", "NOK", "DKK", "PLN", "SGD", "HKD"})
_COUNTRY_CODES = frozenset(p[2] for p in _PLACES)
_IATA_CODES = frozenset(p[6] for p in _PLACES)


def _kind_from_example(example: str) -> str | None:
    """A field whose example is a known code, a date, an email ... holds more of the same."""
    if example in _CURRENCY_CODES:
        return "currency"
    if example in _COUNTRY_CODES:
        return "country_code"
    if example in _IATA_CODES:
        return "iata"
    if example in _LANGUAGES:
        return "language"
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", example):
        return "email"
    if re.match(r"https?://", example):
        return "url"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", example):
        return "date"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})", example):
        return "date-time"
    if re.fullmatch(r"\d{2}:\d{2}", example):
        return "clock"
    return None


def _code_like(text: str) -> bool:
    """``"EUR"``, ``"€"``, ``"+81"``: short, and not a capitalised word like ``"Euro"``."""
    return 0 < len(text) <= 4 and " " not in text and not text[1:].islower()


def _shape(text: str) -> str:
    """``"EUR"`` → ``"A"``, ``"+81"`` → ``"+9"``: character classes, runs collapsed."""
    out: list[str] = []
    for ch in text:
        cls = "A" if ch.isupper() else "a" if ch.islower() else "9" if ch.isdigit() else ch
        if not out or out[-1] != cls:
            out.append(cls)
    return "".join(out)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


# (tokens that must all appear, low, high, decimals) — first match wins, so specific rules
# ("price level", "change percent") come before general ones ("price", "percent")
_NUMBER_RULES: tuple[tuple[frozenset[str], float, float, int], ...] = tuple(
    (frozenset(words.split()), low, high, decimals) for words, low, high, decimals in (
        ("lat", -90, 90, 4), ("latitude", -90, 90, 4), ("lon", -180, 180, 4), ("lng", -180, 180, 4),
        ("longitude", -180, 180, 4),
        ("change percent", -5, 5, 2), ("price level", 1, 4, 0), ("visibility", 1, 20, 1),
        ("probability", 0, 100, 0), ("percent", 0, 100, 1), ("percentage", 0, 100, 1),
        ("humidity", 20, 95, 0), ("confidence", 0.5, 1, 2), ("popularity", 1, 100, 1),
        ("stars", 1, 5, 0), ("rating", 1, 5, 1), ("score", 0, 10, 1),
        ("price", 5, 450, 2), ("amount", 5, 450, 2), ("subtotal", 5, 800, 2), ("total", 5, 900, 2),
        ("tax", 0.5, 60, 2), ("cost", 5, 450, 2), ("fee", 1, 40, 2), ("shipping", 0, 25, 2),
        ("fare", 40, 900, 2), ("balance", 10, 5000, 2), ("refund", 5, 450, 2), ("salary", 30000, 150000, 0),
        ("revenue", 1e6, 5e9, 0), ("market cap", 1e9, 2e12, 0), ("volume", 1e5, 5e7, 0),
        ("employees", 50, 200000, 0), ("population", 50000, 9000000, 0),
        ("year", 1960, 2025, 0), ("founded", 1900, 2020, 0), ("season", 2015, 2025, 0), ("age", 18, 85, 0),
        ("temperature", -5, 35, 1), ("temp", -5, 35, 1), ("feels", -5, 35, 1),
        ("distance center", 0.1, 12, 1), ("distance", 0.5, 2500, 1), ("km", 0.5, 2500, 1),
        ("minutes", 15, 240, 0), ("duration", 15, 240, 0), ("hours", 1, 14, 1), ("days", 1, 10, 0),
        ("speed", 0, 30, 1),
        ("deg", 0, 359, 0), ("degrees", 0, 359, 0), ("bearing", 0, 359, 0), ("pressure", 985, 1035, 0),
        ("hpa", 985, 1035, 0), ("aqi", 10, 180, 0), ("uv", 0, 11, 0), ("pm2", 1, 60, 1), ("pm10", 1, 80, 1),
        ("o3", 5, 120, 1), ("no2", 1, 60, 1), ("precipitation", 0, 20, 1),
        ("calories", 120, 900, 0), ("g", 1, 60, 1), ("mm", 0, 20, 1), ("decimals", 0, 3, 0),
        ("change", -5, 5, 2), ("open", 10, 500, 2), ("close", 10, 500, 2), ("high", 10, 500, 2),
        ("low", 10, 500, 2), ("rate", 0.5, 1.6, 4),
        ("count", 3, 400, 0), ("quantity", 1, 5, 0), ("guests", 1, 4, 0), ("nights", 1, 7, 0),
        ("passengers", 1, 4, 0), ("party", 1, 6, 0), ("servings", 1, 6, 0), ("stops", 0, 2, 0),
        ("page", 1, 1, 0), ("offset", 0, 0, 0), ("limit", 10, 20, 0), ("per page", 10, 20, 0),
        ("position", 1, 20, 0), ("rank", 1, 20, 0), ("order", 1, 20, 0), ("round", 1, 30, 0),
        ("screen", 1, 12, 0), ("screens", 4, 16, 0), ("capacity", 10, 300, 0), ("attendance", 8000, 75000, 0),
        ("home", 0, 4, 0), ("away", 0, 4, 0), ("points", 0, 90, 0), ("goals", 0, 80, 0), ("won", 0, 30, 0),
        ("lost", 0, 30, 0), ("drawn", 0, 15, 0), ("played", 1, 38, 0), ("level", 1, 4, 0),
        ("size", 1, 100, 0),
    )
)


@lru_cache(maxsize=8192)
def _number_rule(tokens: tuple[str, ...], integer: bool) -> tuple[float, float, int] | None:
    words = set(tokens)
    for needed, low, high, decimals in _NUMBER_RULES:
        if needed <= words:
            if integer and "rating" in needed:
                return 1, 5, 0
            return low, high, decimals
    return None


# --------------------------------------------------------------------------------------------
# The generator


class _Run:
    """One call's generation: its random source, echo, and node budget."""

    def __init__(
        self, rng: random.Random, echo: _Echo, list_length: int, max_nodes: int, max_depth: int
    ) -> None:
        self.rng = rng
        self.echo = echo
        self.list_length = list_length
        self.nodes = max_nodes
        self.hard_nodes = max_nodes * _HARD_NODES_FACTOR
        self.max_depth = max_depth

    # ---- entry points

    def generate(self, schema: Any, entity: str | None = None) -> Any:
        """A value for the response ``schema``; ``entity`` is what the API returns records of
        (``"city"`` for ``search_cities``), so their ``name`` fields can be city names."""
        return self._gen(schema, "", 0, _Scope(0), _Context(self.rng, entity))

    def adapt_example(self, example: Any) -> Any:
        return self._adapt(example, 0, _Scope(0), [MAX_NODES * 5])

    # ---- examples

    def _adapt(self, value: Any, depth: int, scope: _Scope, budget: list[int]) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH * 2:
            return None
        if isinstance(value, list):
            return [self._adapt(item, depth + 1, _Scope(scope.hops, True, i), budget)
                    for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        child_hops = scope.hops + 1 if scope.hops is not None and scope.hops < 1 else None
        child = _Scope(child_hops, scope.in_array, scope.index)
        for key, item in value.items():
            echoed = self._echo_value(str(key), _schema_of_example(item), scope, None)
            if echoed is not MISSING:
                out[str(key)] = echoed
            else:
                out[str(key)] = self._adapt(item, depth + 1, child, budget)
        return out

    # ---- echo

    def _echo_value(self, field: str, schema: Any, scope: _Scope, context: _Context | None) -> Any:
        for candidate in self.echo.candidates(field, scope):
            value = coerce(candidate, schema)
            if value is not MISSING:
                return value
        query = self.echo.query
        if query and _snake(field) in _QUERY_TARGETS and scope.hops is not None and scope.hops <= 1:
            if scope.in_array and scope.index > 0:
                suffix = _pick(self.rng, _NOUNS) if context is None else self._vocab_name(context)
                query = f"{query} {suffix}"
            value = coerce(query, schema)
            if value is not MISSING:
                return value
        return MISSING

    # ---- schemas

    def _spend(self) -> bool:
        self.nodes -= 1
        self.hard_nodes -= 1
        return self.nodes >= 0

    def _gen(self, schema: Any, name: str, depth: int, scope: _Scope, context: _Context) -> Any:
        full = self._spend()
        if self.hard_nodes < 0 or depth > self.max_depth * 2:
            return None
        minimal = not full or depth > self.max_depth
        if schema is False:
            return None
        if not isinstance(schema, dict):
            schema = {}
        schema = self._resolve_composition(schema)
        if "const" in schema:
            return _json_copy(schema["const"], [200], 0)
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return self._from_enum(enum, schema)
        kind = self._pick_type(schema, name)
        if kind == "null":
            return None
        if kind == "object":
            return self._object(schema, name, depth, scope, context, minimal)
        if kind == "array":
            return self._array(schema, name, depth, scope, context, minimal)
        if kind == "boolean":
            default = schema.get("default")
            if isinstance(default, bool):
                return default
            # an acknowledgement ({"deleted": true}, {"success": true}) reports success
            return True if _snake(name) in _SUCCESS_FLAGS else self.rng.random() < 0.5
        if kind in ("integer", "number"):
            return self._number(schema, name, kind == "integer", scope, context)
        return self._string(schema, name, scope, context)

    def _resolve_composition(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """Fold ``allOf`` in and choose one ``anyOf``/``oneOf`` alternative (the first that is
        not just ``null``); nested compositions are resolved to a small depth."""
        if not any(key in schema for key in ("allOf", "anyOf", "oneOf")):
            return schema
        merged = {k: v for k, v in schema.items() if k not in ("allOf", "anyOf", "oneOf")}
        if depth > 4:
            return merged
        for part in _list_of(schema.get("allOf"))[:16]:
            if isinstance(part, dict):
                merged = _merge(merged, self._resolve_composition(part, depth + 1))
        alternatives = [a for a in (_list_of(schema.get("anyOf")) or _list_of(schema.get("oneOf")))[:16]
                        if isinstance(a, dict)]
        if alternatives:
            not_null = (a for a in alternatives
                        if declared_types(a) != ["null"] and _list_of(a.get("enum")) != [None])
            choice = next(not_null, alternatives[0])
            merged = _merge(merged, self._resolve_composition(choice, depth + 1))
        return merged

    def _from_enum(self, enum: list[Any], schema: dict[str, Any]) -> Any:
        types = [t for t in declared_types(schema) if t != "null"]
        default = schema.get("default", MISSING)
        if default is not None and default is not MISSING \
                and any(same_value(default, e) for e in enum[:_MAX_ENUM_SCAN]):
            return _json_copy(default, [200], 0)
        pool = enum if len(enum) <= _MAX_ENUM_SCAN else enum[:_MAX_ENUM_SCAN]
        fitting = [e for e in pool if e is not None and (not types or any(has_type(e, t) for t in types))]
        return _json_copy(self.rng.choice(fitting or pool), [200], 0)

    def _pick_type(self, schema: dict[str, Any], name: str) -> str:
        types = declared_types(schema)
        if types:
            non_null = [t for t in types if t != "null"]
            return non_null[0] if non_null else "null"
        if "properties" in schema or "additionalProperties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema or "minItems" in schema:
            return "array"
        if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                          "multipleOf")):
            return "number"
        for key in ("default", "example"):
            if key in schema and schema[key] is not None:
                return json_type(schema[key]) if json_type(schema[key]) != "unknown" else "string"
        if schema.get("x-truncated"):
            return "object"  # cut by the catalog's limits: {} is what it still accepts
        return "string"

    # ---- objects

    def _object(self, schema: dict[str, Any], name: str, depth: int, scope: _Scope,
                parent: _Context, minimal: bool) -> dict[str, Any]:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [r for r in _list_of(schema.get("required")) if isinstance(r, str)]
        if not properties and schema.get("x-truncated") and not required:
            return {}
        own = _entity_of(_tokens(name))
        inherit = not name or _singular(_snake(name)) in _CONTAINER_NAMES
        context = _Context(self.rng, own or (parent.entity if inherit else None))
        child_hops = scope.hops + 1 if scope.hops is not None and scope.hops < 1 else None
        # fields know which list item they belong to (the first record may use the examples)
        is_record = scope.hops is not None and scope.hops <= 1
        child = _Scope(child_hops, scope.in_array, scope.index, is_record)
        out: dict[str, Any] = {}
        echoed: set[str] = set()
        for key, sub in list(properties.items())[:_MAX_PROPERTIES]:
            if minimal and key not in required:
                continue
            if isinstance(sub, dict) and sub.get("writeOnly") is True and key not in required:
                continue
            value = self._echo_value(key, sub, scope, context)
            if value is not MISSING:
                out[key] = value
                echoed.add(key)
                continue
            out[key] = self._gen(sub, key, depth + 1, child, context)
        for key in required[:_MAX_PROPERTIES]:
            if key not in out:
                out[key] = self._gen({}, key, depth + 1, child, context)
        additional = schema.get("additionalProperties", True)
        min_properties = schema.get("minProperties")
        wanted = int(min_properties) if is_number(min_properties) else 0
        if not properties and isinstance(additional, dict) and not minimal:
            most = _as_int(schema.get("maxProperties"), self.list_length)
            wanted = max(wanted, min(self.list_length, most))
        if additional is not False and len(out) < wanted:
            sub = additional if isinstance(additional, dict) else {}
            for key in self._extra_keys(schema, name, wanted - len(out), out):
                out[key] = self._gen(sub, _singular(_snake(name)) or key, depth + 1, _Scope(None), context)
        _make_consistent(out, properties, echoed, self.rng)
        return out

    def _extra_keys(self, schema: dict[str, Any], name: str, count: int, taken: dict[str, Any]) -> list[str]:
        count = min(count, 100)
        example = schema.get("example")
        description = schema.get("description") if isinstance(schema.get("description"), str) else ""
        words = set(_tokens(name)) | set(_tokens(description[:300]))
        pool = [str(k) for k in example] if isinstance(example, dict) else []
        if words & {"cabin", "cabins"}:
            pool += ["economy", "premium_economy", "business", "first"]
        elif words & {"hours", "days", "opening", "schedule", "weekday", "weekdays"}:
            pool += list(_WORDS_BY_TOKEN["day"])
        elif words & {"rate", "rates", "currency", "currencies", "prices", "price", "fares"}:
            pool += ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD"]
        stem = _singular(_snake(name)) or "key"
        pool += [f"{stem}_{i}" for i in range(1, count + 1)]
        pool = list(dict.fromkeys(pool))
        keys = [k for k in pool if k not in taken]
        extra = 1
        while len(keys) < count:
            candidate = f"key_{len(taken) + extra}"
            extra += 1
            if candidate not in taken and candidate not in keys:
                keys.append(candidate)
        return keys[:count]

    # ---- arrays

    def _array(self, schema: dict[str, Any], name: str, depth: int, scope: _Scope,
               context: _Context, minimal: bool) -> list[Any]:
        low = max(0, _as_int(schema.get("minItems"), 0))
        high = _as_int(schema.get("maxItems"), None)
        prefix = _list_of(schema.get("prefixItems"))
        items = schema.get("items", {})
        truncated = schema.get("x-truncated") and "items" not in schema and not prefix
        count = low if minimal or truncated else max(low, self.list_length)
        if scope.hops is not None and scope.hops <= 1 and self.echo.limit is not None:
            count = max(low, min(count, self.echo.limit))
        if high is not None:
            count = min(count, max(high, 0))
        if count > low and count > self.nodes:  # the budget is running out: only what is required
            count = max(low, self.nodes)
        count = min(count, 10_000)
        description = schema.get("description")
        if isinstance(items, dict) and isinstance(description, str) and "description" not in items:
            items = {**items, "description": description}  # "IATA codes of ..." describes the items too
        item_name = _singular(_snake(name)) if name else ""
        out: list[Any] = []
        unique = schema.get("uniqueItems") is True
        seen: set[bytes] = set()
        attempts = 0
        while len(out) < count and self.hard_nodes > 0:
            index = len(out)
            sub = prefix[index] if index < len(prefix) else (items if items is not None else {})
            if sub is False:
                break
            item_scope = _Scope(scope.hops, True, index, scope.in_record)
            value = self._gen(sub, item_name, depth + 1, item_scope, _Context(self.rng, context.entity))
            if unique or _is_scalar(value):
                # lists of tags, emails, codes read better without repeats; uniqueItems needs it
                identity = _identity(value)
                if identity in seen:
                    attempts += 1
                    if attempts <= 2 * count + 2:
                        continue
                    if unique:
                        break
                seen.add(identity)
            out.append(value)
        return out

    # ---- numbers

    def _number(
        self, schema: dict[str, Any], name: str, integer: bool, scope: _Scope, context: _Context
    ) -> Any:
        for key in ("default",):
            value = schema.get(key)
            if is_number(value) and fits_schema(value, {**schema, "type": "integer" if integer else "number"}):
                return int(value) if integer else value
        tokens = _tokens(name)
        words = set(tokens)
        example = schema.get("example")
        low: float
        high: float
        place_value = context.place_number(words)
        if place_value is not None and number_fits(place_value, schema):
            return round(place_value) if integer else place_value
        if tokens and (tokens[-1] in ("id", "ids") or name == "id"):
            digits = len(str(abs(int(example)))) if is_number(example) and abs(example) >= 1 else 6
            digits = max(1, min(digits, 15))
            low, high, decimals = 10 ** (digits - 1), 10**digits - 1, 0
        else:
            rule = _number_rule(tokens, integer)
            if rule is not None:
                low, high, decimals = rule
            elif is_number(example) and math.isfinite(example):
                low, high = sorted((example * 0.5, example * 1.5))
                text = repr(float(example))
                decimals = 0 if float(example).is_integer() else min(4, len(text.split(".")[1]))
                if low == high:
                    low, high = example - 1, example + 1
            else:
                low, high, decimals = (1, 100, 0) if integer else (1, 100, 2)
            low, high = self.echo.preferred_range(tokens, scope, low, high)
        return self._bounded_number(schema, low, high, decimals, integer)

    def _bounded_number(
        self, schema: dict[str, Any], low: float, high: float, decimals: int, integer: bool
    ) -> Any:
        lo_b, hi_b = _finite(schema.get("minimum")), _finite(schema.get("maximum"))
        ex_lo, ex_hi = _finite(schema.get("exclusiveMinimum")), _finite(schema.get("exclusiveMaximum"))
        floor = max((b for b in (lo_b, ex_lo) if b is not None), default=None)
        ceiling = min((b for b in (hi_b, ex_hi) if b is not None), default=None)
        if integer:
            if lo_b is not None:
                lo_b = math.ceil(lo_b)
            if ex_lo is not None:
                ex_lo = math.floor(ex_lo) + 1
            if hi_b is not None:
                hi_b = math.floor(hi_b)
            if ex_hi is not None:
                ex_hi = math.ceil(ex_hi) - 1
            floor = max((b for b in (lo_b, ex_lo) if b is not None), default=None)
            ceiling = min((b for b in (hi_b, ex_hi) if b is not None), default=None)
        span = max(high - low, 1.0)
        if floor is not None and ceiling is not None and floor > ceiling:
            return int(floor) if integer else floor  # contradictory bounds: nothing validates
        lo, hi = low, high
        if floor is not None:
            lo = max(lo, floor)
        if ceiling is not None:
            hi = min(hi, ceiling)
        if lo > hi:  # the plausible range lies outside the allowed one: stay near the bound
            if floor is not None and (ceiling is None or floor + span <= ceiling):
                lo, hi = floor, floor + span if ceiling is None else min(ceiling, floor + span)
            elif ceiling is not None:
                lo, hi = ceiling - span if floor is None else max(floor, ceiling - span), ceiling
            else:
                lo, hi = floor, ceiling
        value: Any
        if integer:
            lo_i, hi_i = math.ceil(lo), math.floor(hi)
            value = self.rng.randint(lo_i, hi_i) if lo_i <= hi_i else lo_i
        else:
            value = round(self.rng.uniform(lo, hi), decimals)
            if decimals == 0:
                value = int(value)
        step = schema.get("multipleOf")
        if is_number(step) and step > 0:
            value = self._multiple(value, step, floor, ceiling, integer)
        typed = {k: schema[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                        "multipleOf") if k in schema}
        if not number_fits(value, typed):
            # rounding pushed it onto an exclusive bound or past a bound: take the middle
            if floor is not None and ceiling is not None:
                middle = (floor + ceiling) / 2
                value = round(middle) if integer else middle
            elif floor is not None:
                value = (math.floor(floor) + 1) if integer else floor + 1
            elif ceiling is not None:
                value = (math.ceil(ceiling) - 1) if integer else ceiling - 1
        return value

    def _multiple(self, value: float, step: float, floor: Any, ceiling: Any, integer: bool) -> Any:
        base = math.floor(value / step) if math.isfinite(value / step) else 0
        for k in (base, base + 1, base - 1, base + 2, base - 2, 0):
            candidate: Any = k * step
            if integer or (isinstance(step, int) and isinstance(candidate, int)):
                candidate = int(candidate) if float(candidate).is_integer() else candidate
            else:
                digits = max(0, -math.floor(math.log10(step))) + 2 if step < 1 else 2
                candidate = round(candidate, digits)
            if (floor is None or candidate >= floor) and (ceiling is None or candidate <= ceiling) \
                    and is_multiple_of(candidate, step):
                return candidate
        return value

    # ---- strings

    def _string(self, schema: dict[str, Any], name: str, scope: _Scope, context: _Context) -> str:
        default = schema.get("default")
        if isinstance(default, str) and string_fits(default, schema):
            return default
        example = schema.get("example")
        example = example if isinstance(example, str) and string_fits(example, schema) else None
        value = self._string_candidate(schema, name, scope, context, example)
        if string_fits(value, schema):
            return value
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            # made to match: checked against the pattern already, where that can be done safely
            rest = {key: sub for key, sub in schema.items() if key != "pattern"}
            for _ in range(3):
                generated = _string_for_pattern(pattern, self.rng)
                if generated is not None and string_fits(generated, rest):
                    return generated
        if example is not None:
            return example
        return _fix_length(value, schema, self.rng)

    def _string_candidate(self, schema: dict[str, Any], name: str, scope: _Scope, context: _Context,
                          example: str | None) -> str:
        rng = self.rng
        fmt = schema.get("format")
        if isinstance(fmt, str):
            by_format = _by_format(fmt, name, rng, context)
            if by_format is not None:
                return by_format
        description = schema.get("description") if isinstance(schema.get("description"), str) else ""
        tokens = _tokens(name)
        kind = _string_kind(tokens, description)
        if kind in ("id", None) and example is not None:
            kind = _kind_from_example(example) or kind
        if kind == "id":
            if example is not None and example.strip():
                return _mutate_id(example, rng)
            return _make_id(tokens, rng)
        if kind == "name" and context.entity is not None:
            kind = context.entity
        first_record = not scope.in_array or scope.index == 0
        if kind in ("name", "title", "text", "city", "country", "person", "company", None) \
                and example is not None and (first_record or kind is None):
            return example
        if kind is None:
            if example is not None:
                return example
            return _generic_text(tokens, rng)
        value = _vocabulary(kind, tokens, rng, context)
        if example is not None and _code_like(example) and _shape(value) != _shape(example):
            return example  # a short code ("€", "+81") whose look the vocabulary does not share
        return value

    def _vocab_name(self, context: _Context) -> str:
        return _vocabulary("name", ["name"], self.rng, context)


def _identity(value: Any) -> bytes:
    """Equal JSON values (1 and 1.0 included, as uniqueItems counts them) give equal bytes."""
    try:
        return orjson.dumps(canonical_value(value), option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):
        return repr(value).encode()


def _finite(value: Any) -> float | None:
    return value if is_number(value) and math.isfinite(value) else None


def _list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_int(value: Any, fallback: Any) -> Any:
    if is_number(value) and math.isfinite(value):
        return int(value)
    return fallback


def _merge(base: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """``part``'s constraints added to ``base``: properties and required united, types
    intersected, annotations (description, example, default) kept from ``base``, any other
    keyword taken from ``part``."""
    out = dict(base)
    for key, value in part.items():
        if key == "properties" and isinstance(value, dict) and isinstance(out.get("properties"), dict):
            out["properties"] = {**out["properties"], **value}
        elif key == "required" and isinstance(value, list) and isinstance(out.get("required"), list):
            out["required"] = [*out["required"], *(r for r in value if r not in out["required"])]
        elif key == "type" and "type" in out:
            mine, theirs = declared_types(out), declared_types(part)
            both = [t for t in mine if t in theirs or (t == "integer" and "number" in theirs)]
            if both:
                out["type"] = both if len(both) > 1 else both[0]
        elif key in ("description", "example", "default"):
            out.setdefault(key, value)
        else:
            out[key] = value
    return out


def _schema_of_example(value: Any) -> dict[str, Any]:
    kind = json_type(value)
    if kind == "integer":
        return {"type": ["integer", "number"]}  # "7" becomes 7; an example's 3 admits 2.5 too
    if kind in ("unknown", "null"):
        return {}
    if kind == "array":
        items = {"type": json_type(value[0])} if value and _is_scalar(value[0]) else {}
        return {"type": "array", "items": items}
    return {"type": kind}


_SUCCESS_FLAGS = frozenset({"ok", "success", "succeeded", "deleted", "removed", "cancelled", "canceled",
                           "created", "updated", "sent", "booked", "confirmed", "saved", "done", "completed",
                           "accepted", "valid"})
_CONTAINER_NAMES = frozenset({"", "result", "item", "data", "record", "entry", "hit", "list", "response",
                              "payload", "content", "value", "row", "match", "suggestion", "top"})


def _entity_of(tokens: Sequence[str]) -> str | None:
    """What records named ``tokens`` are, when their ``name`` field says more than a label:
    ``nearest_city`` → city, ``director`` → person, ``airline`` → company."""
    words = {_singular(t) for t in tokens} | set(tokens)
    if words & {"city", "capital", "town", "birthplace", "hometown"}:
        return "city"
    if "country" in words:
        return "country"
    if words & _PERSON_TOKENS or words & {"people", "contact", "cast", "crew", "staff", "guest"}:
        return "person"
    if words & _COMPANY_TOKENS:
        return "company"
    return None


class _Context:
    """What the fields of one object share: a place, a person, and what the object is
    (its entity), drawn when first needed."""

    __slots__ = ("rng", "entity", "_place", "_other_place", "_person")

    def __init__(self, rng: random.Random, entity: str | None = None) -> None:
        self.rng = rng
        self.entity = entity
        self._place: tuple[Any, ...] | None = None
        self._other_place: tuple[Any, ...] | None = None
        self._person: tuple[str, str] | None = None

    @property
    def place(self) -> tuple[Any, ...]:
        if self._place is None:
            self._place = self.rng.choice(_PLACES)
        return self._place

    def place_for(self, tokens: Sequence[str]) -> tuple[Any, ...]:
        """The object's place, or for a destination-like field a second, different one
        (a flight from CDG goes somewhere else)."""
        if not set(tokens) & _DESTINATION_TOKENS:
            return self.place
        if self._other_place is None:
            others = [p for p in _PLACES if p is not self.place]
            self._other_place = self.rng.choice(others)
        return self._other_place

    @property
    def person(self) -> tuple[str, str]:
        if self._person is None:
            self._person = (self.rng.choice(_FIRST), self.rng.choice(_LAST))
        return self._person

    def place_number(self, words: set[str]) -> float | None:
        if words & {"lat", "latitude"}:
            return round(self.place[3] + self.rng.uniform(-0.05, 0.05), 4)
        if words & {"lon", "lng", "longitude"}:
            return round(self.place[4] + self.rng.uniform(-0.05, 0.05), 4)
        return None


def _pick(rng: random.Random, options: Sequence[Any]) -> Any:
    return options[rng.randrange(len(options))]


def _iso_datetime(rng: random.Random) -> _dt.datetime:
    day = rng.randrange(_REFERENCE_DAYS)
    minutes = rng.randrange(6 * 4, 22 * 4) * 15
    return _REFERENCE_START + _dt.timedelta(days=day, minutes=minutes)


def _format_datetime(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _by_format(fmt: str, name: str, rng: random.Random, context: _Context) -> str | None:
    if fmt == "date-time":
        return _format_datetime(_iso_datetime(rng))
    if fmt == "date":
        return _iso_datetime(rng).date().isoformat()
    if fmt == "time":
        return f"{rng.randrange(6, 23):02d}:{_pick(rng, (0, 15, 30, 45)):02d}:00Z"
    if fmt in ("email", "idn-email"):
        return _email(context)
    if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
        return _url(_tokens(name), rng)
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt in ("hostname", "idn-hostname"):
        return f"{_pick(rng, ('api', 'www', 'app', 'mail'))}.example.com"
    if fmt == "ipv4":
        return f"192.0.2.{rng.randrange(1, 255)}"
    if fmt == "ipv6":
        return f"2001:db8::{rng.randrange(1, 0xffff):x}"
    if fmt == "duration":
        return f"PT{rng.randrange(1, 5)}H{_pick(rng, (0, 15, 30, 45))}M"
    if fmt == "byte":
        return "U2FtcGxlIGRhdGE="
    if fmt == "json-pointer":
        return "/items/0"
    if fmt == "regex":
        return "^[a-z]+$"
    return None


def _email(context: _Context) -> str:
    first, last = context.person
    return f"{first.lower()}.{last.lower()}@example.com"


def _url(tokens: Sequence[str], rng: random.Random) -> str:
    words = set(tokens)
    if words & {"image", "photo", "avatar", "thumbnail", "logo", "picture", "poster", "icon"}:
        return f"https://images.example.com/{rng.randrange(10**5, 10**6)}.jpg"
    return f"https://www.example.com/{'-'.join(tokens[:-1]) or 'item'}/{rng.randrange(1000, 99999)}"


def _make_id(tokens: Sequence[str], rng: random.Random) -> str:
    entity = [t for t in tokens if t not in _ID_LAST_TOKENS]
    prefix = (entity[0][:3] if entity else "id")
    if tokens and tokens[-1] in ("code", "ref", "reference"):
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    if tokens and tokens[-1] == "number":
        return f"{prefix.upper()[:2]}{rng.randrange(100, 10000)}"
    return f"{prefix}-{rng.randrange(10**4, 10**6)}"


def _mutate_id(example: str, rng: random.Random) -> str:
    """An id shaped like the example: ``"ORD-700002"`` → ``"ORD-418305"`` (new digits, prefix
    kept); an example without digits gets new letters instead (``"AF"`` → ``"QK"``)."""
    if any(ch.isdigit() for ch in example):
        return "".join(str(rng.randrange(10)) if ch.isdigit() else ch for ch in example)
    upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choice(upper) if ch in upper else rng.choice(lower) if ch in lower else ch
                   for ch in example)


def _generic_text(tokens: Sequence[str], rng: random.Random) -> str:
    if not tokens:
        return _pick(rng, _SENTENCES)
    return f"{_pick(rng, _ADJECTIVES)} {' '.join(tokens).capitalize()}"


_DESTINATION_TOKENS = frozenset({"destination", "dest", "arrival", "to"})


def _vocabulary(kind: str, tokens: Sequence[str], rng: random.Random, context: _Context) -> str:
    place = context.place_for(tokens)
    if kind == "email":
        return _email(context)
    if kind == "url":
        return _url(tokens, rng)
    if kind == "page":
        return f"?page={rng.randrange(2, 6)}"
    if kind == "phone":
        return f"{place[8]} 555 {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}"
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "timezone":
        return place[5]
    if kind == "date-time":
        return _format_datetime(_iso_datetime(rng))
    if kind == "date":
        return _iso_datetime(rng).date().isoformat()
    if kind == "clock":
        return f"{rng.randrange(7, 23):02d}:{_pick(rng, (0, 15, 30, 45)):02d}"
    if kind == "iata":
        return place[6]
    if kind == "country_code":
        return place[2]
    if kind == "currency":
        return place[7]
    if kind == "calling_code":
        return place[8]
    if kind == "language":
        return _pick(rng, _LANGUAGES)
    if kind == "postal_code":
        return f"{rng.randrange(10000, 99999)}"
    if kind == "ticker":
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randrange(3, 5)))
    if kind == "country":
        return place[1]
    if kind == "city":
        return place[0]
    if kind == "address":
        street = _pick(rng, ("Street", "Avenue", "Road", "Lane"))
        return f"{rng.randrange(1, 250)} {_pick(rng, _NOUNS)} {street}"
    if kind == "region":
        return _pick(rng, ("North", "South", "East", "West", "Central")) + " " + place[1]
    if kind == "first_name":
        return context.person[0]
    if kind == "last_name":
        return context.person[1]
    if kind == "username":
        first, last = context.person
        return f"{first.lower()}{last.lower()[:3]}{rng.randrange(10, 99)}"
    if kind == "person":
        first, last = context.person
        return f"{first} {last}"
    if kind == "company":
        if "airline" in tokens:
            return f"{_pick(rng, _ADJECTIVES)} Air"
        return f"{_pick(rng, _NOUNS)} {_pick(rng, _COMPANY_SUFFIXES)}"
    if kind == "id":
        return _make_id(tokens, rng)
    if kind == "title":
        return f"The {_pick(rng, _ADJECTIVES)} {_pick(rng, _NOUNS)}"
    if kind == "text":
        return _pick(rng, _SENTENCES)
    if kind == "name":
        return f"{_pick(rng, _ADJECTIVES)} {_pick(rng, _NOUNS)}"
    if kind == "colour":
        return _pick(rng, _COLOURS)
    if kind == "year":
        return str(rng.randrange(2015, 2026))
    if kind.startswith("word:"):
        return _pick(rng, _WORDS_BY_TOKEN[kind[5:]])
    return _generic_text(tokens, rng)


def _fix_length(value: str, schema: dict[str, Any], rng: random.Random) -> str:
    low = _as_int(schema.get("minLength"), 0)
    high = _as_int(schema.get("maxLength"), None)
    if high is not None and len(value) > high:
        value = value[: max(high, 0)]
    if len(value) < low:
        pad = min(low, 10_000) - len(value)
        value += "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(pad))
    return value


_PAIRS = (("start", "end"), ("starts", "ends"), ("start_date", "end_date"), ("start_time", "end_time"),
          ("check_in", "check_out"), ("departure_time", "arrival_time"), ("departure", "arrival"),
          ("valid_from", "valid_until"), ("created_at", "updated_at"), ("opens", "closes"))
_TOTAL_FIELDS = ("total", "total_results", "total_count", "count")


def _make_consistent(
    out: dict[str, Any], properties: dict[str, Any], echoed: set[str], rng: random.Random
) -> None:
    """Small plausibility fixes across sibling fields: ends after starts, totals ≥ listed items."""
    for first, second in _PAIRS:
        if first not in out or second not in out:
            continue
        if first in echoed and second in echoed:
            _duration_from(out, properties, first, second, echoed)
        else:
            _order_pair(out, properties, first, second, echoed, rng)
    lists = [v for k, v in out.items() if isinstance(v, list) and k not in echoed]
    for key in _TOTAL_FIELDS:
        value = out.get(key)
        if key in echoed or not isinstance(value, int) or isinstance(value, bool) or not lists:
            continue
        offset = out.get("offset") if isinstance(out.get("offset"), int) else 0
        floor = max(len(items) for items in lists) + max(offset, 0)
        if value < floor and fits_schema(floor, properties.get(key, {})):
            out[key] = floor


def _order_pair(out: dict[str, Any], properties: dict[str, Any], first: str, second: str,
                echoed: set[str], rng: random.Random) -> None:
    """Make ``second`` come after ``first`` (by ``duration_minutes`` when the object has one);
    an echoed argument stays as it is and the other field moves."""
    a, b = out[first], out[second]
    if not isinstance(a, str) or not isinstance(b, str):
        return
    parsed_a, parsed_b = _parse_moment(a), _parse_moment(b)
    if parsed_a is None or parsed_b is None or type(parsed_a) is not type(parsed_b):
        return
    minutes = out.get("duration_minutes")
    exact = isinstance(parsed_a, _dt.datetime) and isinstance(minutes, int) \
        and not isinstance(minutes, bool) and 0 < minutes < 100_000 and first != "created_at"
    if not exact and parsed_b > parsed_a:
        return
    if exact:
        delta = _dt.timedelta(minutes=minutes)
    elif isinstance(parsed_a, _dt.datetime):
        delta = _dt.timedelta(minutes=rng.randrange(2, 17) * 15)
    else:
        delta = _dt.timedelta(days=rng.randrange(1, 8))
    if second in echoed:
        field, value = first, _render_moment(parsed_b - delta, a)
    else:
        field, value = second, _render_moment(parsed_a + delta, b)
    if fits_schema(value, properties.get(field, {})):
        out[field] = value


def _duration_from(out: dict[str, Any], properties: dict[str, Any], first: str, second: str,
                   echoed: set[str]) -> None:
    """Both ends came from the call: the generated ``duration_minutes`` follows them."""
    if "duration_minutes" not in out or "duration_minutes" in echoed:
        return
    a, b = out[first], out[second]
    start = _parse_moment(a) if isinstance(a, str) else None
    end = _parse_moment(b) if isinstance(b, str) else None
    if isinstance(start, _dt.datetime) and isinstance(end, _dt.datetime) and end > start:
        minutes = int((end - start).total_seconds() // 60)
        if fits_schema(minutes, properties.get("duration_minutes", {})):
            out["duration_minutes"] = minutes


def _parse_moment(text: str) -> _dt.date | _dt.datetime | None:
    try:
        if len(text) == 10:
            return _dt.date.fromisoformat(text)
        if "T" in text:
            moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo is not None else None
    except ValueError:
        return None
    return None


def _render_moment(moment: _dt.date | _dt.datetime, like: str) -> str:
    if isinstance(moment, _dt.datetime):
        if like.endswith("Z"):
            return _format_datetime(moment)
        return moment.isoformat()
    return moment.isoformat()


# --------------------------------------------------------------------------------------------
# Strings for a ``pattern``


class _PatternTooHard(Exception):
    pass


def _string_for_pattern(pattern: str, rng: random.Random, max_repeat: int = 6) -> str | None:
    """A random string matching ``pattern`` for the common regex forms (classes, repeats,
    groups, alternation); None when the pattern uses something else (look-arounds, backrefs)."""
    parsed = parse_pattern(pattern, max_chars=500)
    if parsed is None:
        return None
    out: list[str] = []
    budget = [400]

    def emit(items: Any, depth: int) -> None:
        if depth > 20:
            raise _PatternTooHard
        for op, arg in items:
            budget[0] -= 1
            if budget[0] < 0:
                raise _PatternTooHard
            if op is _sre_c.LITERAL:
                out.append(chr(arg))
            elif op is _sre_c.NOT_LITERAL:
                out.append("a" if arg != ord("a") else "b")
            elif op is _sre_c.ANY:
                out.append("x")
            elif op is _sre_c.IN:
                out.append(_char_in(arg, rng))
            elif op in REPEATS:
                low, high, sub = arg
                high = low + max_repeat if high is _sre_c.MAXREPEAT else min(high, low + max_repeat)
                for _ in range(rng.randint(low, max(low, high))):
                    emit(sub, depth + 1)
            elif op is _sre_c.SUBPATTERN:
                emit(arg[-1], depth + 1)
            elif op is ATOMIC_GROUP:
                emit(arg, depth + 1)
            elif op is _sre_c.BRANCH:
                emit(rng.choice(arg[1]), depth + 1)
            elif op is _sre_c.AT:
                continue
            elif op is _sre_c.CATEGORY:
                out.append(_char_for_category(arg))
            else:
                raise _PatternTooHard

    try:
        emit(parsed, 0)
    except (_PatternTooHard, ValueError, OverflowError, RecursionError):
        return None
    text = "".join(out)
    return text if pattern_allows(pattern, text) else None


def _char_in(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    if items and items[0][0] is _sre_c.NEGATE:
        excluded = items[1:]
        for candidate in "aZ0_-x9Q ":
            if not _in_set(candidate, excluded):
                return candidate
        return "\u00e9"
    op, arg = items[rng.randrange(len(items))] if items else (_sre_c.LITERAL, ord("a"))
    if op is _sre_c.LITERAL:
        return chr(arg)
    if op is _sre_c.RANGE:
        low, high = arg
        return chr(rng.randint(low, min(high, low + 1000)))
    if op is _sre_c.CATEGORY:
        return _char_for_category(arg)
    return "a"


def _in_set(char: str, items: list[tuple[Any, Any]]) -> bool:
    code = ord(char)
    for op, arg in items:
        if op is _sre_c.LITERAL and arg == code:
            return True
        if op is _sre_c.RANGE and arg[0] <= code <= arg[1]:
            return True
        if op is _sre_c.CATEGORY and _char_for_category(arg) == char:
            return True
    return False


def _char_for_category(category: Any) -> str:
    name = str(category)
    if "NOT_DIGIT" in name:
        return "a"
    if "DIGIT" in name:
        return "7"
    if "NOT_SPACE" in name:
        return "a"
    if "SPACE" in name:
        return " "
    if "NOT_WORD" in name:
        return "-"
    if "WORD" in name:
        return "k"
    return "a"
