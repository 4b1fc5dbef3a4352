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
  ``give_answer`` and a ``final_answer`` that says in sentences what each call returned: counted
  items (never more than the observation holds), their names, a few facts; no raw JSON.
* **Wording.** Thoughts and answers take one of several phrasings, chosen by a generator seeded
  with the query, the step and the sample index (``phrasing``), apart from the search's choices.

Choices are seeded by the conversation and ``request.sample_index``: the same request always gets
the same reply, a new sample index may pick another of the top candidates.

The package, in the order a request goes through it: ``policy`` (the chat model: seeding,
accounting, rule failures), ``conversation`` (functions, calls and observations read from the
request), ``decision`` (the next call, a repair, or Finish), ``arguments`` (filling a function's
arguments), ``query_facts`` (what the query names), ``observations`` (values from earlier
responses), ``values`` (fitting a guess to a parameter), ``phrasing`` (thoughts and the final
answer), ``words`` (tokens and stems).
"""

from pipeline.llm.offline_policy.conversation import FINISH
from pipeline.llm.offline_policy.decision import MAX_CALLS, MAX_FAILURES
from pipeline.llm.offline_policy.policy import MODEL_NAME, OfflinePolicy

__all__ = ["FINISH", "MAX_CALLS", "MAX_FAILURES", "MODEL_NAME", "OfflinePolicy"]
