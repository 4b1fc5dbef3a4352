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
The package: ``simulator`` (the interface, the rule-based simulator, which description it uses),
``generator`` (a value for a schema, an example adapted), ``echo`` (arguments in the response),
``vocabulary`` and ``plausible`` (what a field holds and a value for it), ``consistency``
(sibling fields that agree), ``template`` (ToolBench's skeletons), ``pattern_strings``,
``names`` and ``bounds``. Fitting a value to a schema is :mod:`pipeline.schema_values`.
"""

from pipeline.env.simulate.bounds import MAX_DEPTH, MAX_NODES
from pipeline.env.simulate.simulator import ResponseSimulator, ResponseSource, Simulator, response_source
from pipeline.env.simulate.template import schema_from_template

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "ResponseSimulator",
    "ResponseSource",
    "Simulator",
    "response_source",
    "schema_from_template",
]
