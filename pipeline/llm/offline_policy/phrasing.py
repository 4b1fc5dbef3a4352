"""The words of the offline policy: its thoughts and its final answer.

Still rules, not a language model: each thought and answer is one of a few phrasings, chosen by
a random generator seeded with the query, the step and the sample index, so a run is
reproducible while a thousand samples do not all open with the same sentence.

The final answer says what each successful call returned, in sentences: how many items a list
held (counted, not guessed; "at least N" when the observation was cut off), the names of the
first ones and a few facts of the first or only record. It never pastes raw JSON and says
nothing the observations do not contain.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from pipeline.llm.offline_policy.conversation import Call, Function
from pipeline.llm.offline_policy.words import humanise, shorten

_FACT_KEYS = (
    "name", "title", "symbol", "city", "country", "price", "price_from", "temperature", "temp", "value", "rate",
    "result", "amount", "total", "status", "date", "rating", "stars", "cuisine", "currency", "condition",
)
_LABEL_KEYS = ("name", "title", "full_name", "symbol", "code", "label", "headline", "city", "id")
_DESCRIPTION = re.compile(r'description of this function is:\s*"?(.*)', re.IGNORECASE | re.DOTALL)
_SENTENCE = re.compile(r"^(.+?)(?:[.!?](?:\s|$)|$)", re.DOTALL)
_BRACKETS = re.compile(r"\s*\([^)]*\)")
_MAX_LISTED = 3
_MAX_FACTS = 4


def phrasing_rng(query: str, step: int, sample_index: int, what: str) -> random.Random:
    """The generator a phrasing is chosen with: the same query, step and sample always read the same."""
    return random.Random(f"{what}|{sample_index}|{step}|{query}")


_VERBS = frozenset([
    "get", "list", "search", "find", "create", "cancel", "convert", "update", "delete", "book", "reserve", "check",
    "look", "fetch", "add", "remove", "send", "compare", "calculate", "translate", "track", "show", "retrieve",
    "make", "place", "post", "set", "validate", "verify", "read", "register", "submit", "query", "compute",
    "estimate", "generate", "return", "give", "discover", "browse", "resolve", "lookup", "view", "count",
])


def purpose(fn: Function) -> str:
    """What a function does, as an imperative without its final stop: "get a company profile".

    The first sentence of its description (ToolBench's "This is the subfunction ..." wrapper
    aside), cut at a comma when long; a noun phrase ("Similar recipes") gets the verb the API's
    name starts with ("get similar recipes"); the API's name when there is no usable description."""
    api = fn.name.partition("_for_")[0]
    match = _DESCRIPTION.search(fn.description)
    text = (match.group(1) if match else fn.description).strip().strip('"').strip()
    first = _SENTENCE.match(text)
    sentence = _BRACKETS.sub("", first.group(1) if first else "").strip().rstrip(".:;,")
    if len(sentence) > 60:
        sentence = re.split(r",\s|\s[-–—]\s|;\s", sentence)[0]
    if not sentence or len(sentence) > 90 or sentence.lower().startswith("this is the subfunction"):
        return humanise(api) or fn.name
    if not sentence[:2].isupper():
        sentence = sentence[0].lower() + sentence[1:]
    first_word = sentence.split()[0].lower()
    if first_word not in _VERBS:
        verb = next((v for v in sorted(_VERBS, key=len, reverse=True) if api.lower().startswith(v)), "look up")
        sentence = f"{'look up' if verb in ('look', 'lookup') else verb} {sentence}"
    return sentence


def arguments_text(arguments: dict[str, Any], limit: int = 4) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in list(arguments.items())[:limit])


# --- thoughts -----------------------------------------------------------------------------------

_CALL_THOUGHTS = (
    "Thought: To {purpose}, I will call {name}{with_args}.",
    "Thought: The next part of the request is to {purpose}; I'll call {name}{with_args}.",
    "Thought: I need to {purpose}. {name} does that, so I call it{with_args}.",
    "Thought: {name} can {purpose}; calling it{with_args}.",
    "Thought: Now I should {purpose}. Calling {name}{with_args}.",
    "Thought: Next step: {purpose}, using {name}{with_args}.",
)
_CHAINED_THOUGHTS = (
    "Thought: The earlier result gives me {given}, so now I can {purpose} with {name}{with_args}.",
    "Thought: With {given} from the previous call, I'll {purpose} using {name}{with_args}.",
    "Thought: I take {given} from what came back and call {name} to {purpose}{with_args}.",
)
_FIRST_THOUGHTS = (
    "Thought: Let me start by trying to {purpose}: I call {name}{with_args}.",
    "Thought: The user wants me to {purpose} first, so I call {name}{with_args}.",
    "Thought: First I'll {purpose} with {name}{with_args}.",
)
_RETRY_THOUGHTS = (
    "Thought: The call to {name} failed ({error}); {note}, and I call it again.",
    "Thought: {name} returned an error: {error}. So {note}, then I retry.",
    "Thought: That did not work ({error}). {note_cap} and try {name} again.",
    "Thought: The API refused the call ({error}); {note} before calling {name} once more.",
)
_FINISH_THOUGHTS = (
    "Thought: I have the results for every part of the request, so I will give the final answer.",
    "Thought: Every part of the task is answered now; time to write the final answer.",
    "Thought: That covers the whole request, so I can answer.",
    "Thought: All the calls I needed have succeeded; I'll sum up the results for the user.",
    "Thought: Nothing is left to look up, so I'll finish with the answer.",
)


def call_thought(rng: random.Random, fn: Function, arguments: dict[str, Any], *, first: bool,
                 chained: dict[str, Any], lead: str = "") -> str:
    """The thought before a call: what it is for, with what; ``chained`` are the arguments taken
    from earlier results; ``lead`` (a fallback's or a re-expansion's reason) comes first."""
    facts = arguments_text(arguments)
    fields = {"purpose": purpose(fn), "name": fn.name, "with_args": f" with {facts}" if facts else ""}
    if lead:
        return f"Thought: {lead}; to {fields['purpose']}, I will call {fn.name}{fields['with_args']}."
    if chained:
        fields["given"] = arguments_text(chained, 2)
        return rng.choice(_CHAINED_THOUGHTS).format(**fields)
    return rng.choice(_FIRST_THOUGHTS + _CALL_THOUGHTS if first else _CALL_THOUGHTS).format(**fields)


def retry_thought(rng: random.Random, name: str, error: str, note: str) -> str:
    return rng.choice(_RETRY_THOUGHTS).format(name=name, error=shorten(error), note=note,
                                              note_cap=note[:1].upper() + note[1:])


def finish_thought(rng: random.Random) -> str:
    return rng.choice(_FINISH_THOUGHTS)


# --- the final answer ---------------------------------------------------------------------------

_OPENERS = (
    "Here is what I found.", "Here are the results.", "I looked this up for you.", "Done.",
    "This is what the tools returned.", "All the lookups are done.", "", "", "",
)
_COLLECTION = (
    "{Purpose} gave {count}{listing}.",
    "For \"{purpose}\" there {were} {count}{listing}.",
    "{Count} came back when I asked to {purpose}{listing}.",
    "The call to {purpose} returned {count}{listing}.",
)
_RECORD = (
    "{Purpose}: {facts}.",
    "The result of \"{purpose}\" shows {facts}.",
    "When I asked to {purpose}, it returned {facts}.",
    "{Purpose} returned {facts}.",
)
_EMPTY = (
    "{Purpose} returned no results.",
    "There were no results for \"{purpose}\".",
)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = " ".join(str(value).split())
    if not text or len(text) > 80 or text.lstrip()[:1] in "{[":
        return None
    return text


def _facts(record: dict[str, Any], limit: int = _MAX_FACTS, skip: str | None = None) -> list[str]:
    """A record's first scalar facts, preferred keys first: "rating 7.5"."""
    ranked = sorted(record.items(), key=lambda kv: next(
        (i for i, key in enumerate(_FACT_KEYS) if key == str(kv[0]).lower()), len(_FACT_KEYS)))
    facts = []
    for key, value in ranked:
        shown = _scalar(value)
        if shown is None or key == skip:
            continue
        facts.append(f"{humanise(str(key))} {shown}")
        if len(facts) >= limit:
            break
    return facts


def _label(item: Any) -> tuple[str | None, str | None]:
    """(the text naming an item, the key it came from)."""
    if not isinstance(item, dict):
        return _scalar(item), None
    lowered = {str(k).lower(): k for k in item}
    for key in _LABEL_KEYS:
        if key in lowered:
            shown = _scalar(item[lowered[key]])
            if shown is not None:
                return shown, lowered[key]
    return None, None


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


_WRAPPER_KEYS = frozenset(["results", "items", "data", "records", "entries", "hits", "list", "values", "rows",
                           "objects", "matches", "docs", "response", "result"])


def _noun(key: str) -> str:
    noun = humanise(key) or "result"
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _collection(response: Any) -> tuple[str, list[Any], dict[str, Any]] | None:
    """(noun, items, the record around them) when a response is a list of results: a list, or an
    object wrapping one list (``results``, ``items`` ..., or a list beside at most three other
    fields: a menu's ``sections``). An object with many fields is one record, lists and all."""
    if isinstance(response, list):
        return "result", response, {}
    if isinstance(response, dict):
        lists = [key for key, value in response.items() if isinstance(value, list)]
        if len(lists) == 1:
            key = lists[0]
            if str(key).lower() in _WRAPPER_KEYS or len(response) <= 4:
                noun = _noun(str(key)) if str(key).lower() not in _WRAPPER_KEYS else "result"
                return noun, response[key], {k: v for k, v in response.items() if k != key}
    return None


def _plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


def _counted(noun: str, items: list[Any], cut: bool) -> str:
    return f"{'at least ' if cut else ''}{len(items)} {_plural(noun, len(items))}"


_CUT_NOTE = " The response was cut off, so there may be more."


def describe_call(rng: random.Random, fn_purpose: str, response: Any, *, cut: bool) -> str:
    """One sentence on what a successful call returned (two when its observation was cut off)."""
    fields = {"purpose": fn_purpose, "Purpose": _cap(fn_purpose)}
    found = _collection(response)
    if found is not None:
        noun, items, around = found
        if not items and not cut:
            return rng.choice(_EMPTY).format(**fields)
        count = _counted(noun, items, cut)
        names = [name for name in (_label(item)[0] for item in items[:_MAX_LISTED]) if name]
        listing = ""
        if names:
            more = len(items) - len(names)
            listing = ": " + _joined(names) + (f", and {more} more" if more > 0 and len(names) == _MAX_LISTED
                                               else "")
        first = items[0] if items else None
        if isinstance(first, dict):
            details = _facts(first, 3, skip=_label(first)[1])
            if details:
                listing += f" ({'the first: ' if len(items) > 1 else ''}{', '.join(details)})"
        total = next((v for k, v in around.items() if str(k).lower() in ("total", "count", "total_results")
                      and isinstance(v, int) and not isinstance(v, bool)), None)
        if total is not None and total != len(items):
            listing += f"; {total} in total"
        fields.update(count=count, Count=_cap(count), listing=listing, were="was" if len(items) == 1 else "were")
        return rng.choice(_COLLECTION).format(**fields) + (_CUT_NOTE if cut else "")
    if isinstance(response, dict):
        facts = _facts(response)
        for key, value in response.items():  # a record's lists: counted, named when short
            if isinstance(value, list) and len(facts) < _MAX_FACTS + 2:
                names = [n for n in (_label(item)[0] for item in value[:_MAX_LISTED]) if n]
                named = f" ({_joined(names)}{', ...' if len(value) > len(names) else ''})" if names else ""
                facts.append(_counted(_noun(str(key)), value, cut) + named)
        if not facts:
            return f"{_cap(fn_purpose)} succeeded."
        return rng.choice(_RECORD).format(facts=", ".join(facts), **fields) + (_CUT_NOTE if cut else "")
    shown = _scalar(response)
    if shown is None:
        if isinstance(response, str) and response.strip():
            return f"{_cap(fn_purpose)} returned a response I could not read in full."
        return f"{_cap(fn_purpose)} succeeded."
    return rng.choice(_RECORD).format(facts=shown, **fields)


def final_answer(rng: random.Random, calls: list[Call], functions: dict[str, Function], limit: int = 900) -> str:
    """The answer: an opening (or none) and one sentence per successful call, in call order."""
    sentences = []
    for call in calls:
        fn = functions.get(call.name)
        if call.ok and fn is not None:
            sentences.append(describe_call(rng, purpose(fn), call.response, cut=call.cut))
    if not sentences:
        return "The requested calls completed."
    opener = rng.choice(_OPENERS)
    return shorten(" ".join([opener, *sentences]).strip(), limit)
