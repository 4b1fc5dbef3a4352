"""One reply: which function to call next, with what arguments, or Finish.

Relevant functions are a greedy cover of the query's words by function names and descriptions,
in query order. After an error the call is repaired from what the error names (missing
argument, wrong type, "must be one of", not found, unexpected argument); after two failures of
one function another is tried; functions named in a diversity prompt are avoided; when every
relevant function has succeeded the answer quotes their results, and when nothing can be
called the policy gives up and restarts.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any

from pipeline.llm.offline_policy.arguments import (
    Q_DOC,
    Q_NONE,
    Fill,
    banked_value,
    documented_values,
    fill_arguments,
    fill_param,
)
from pipeline.llm.offline_policy.conversation import FINISH, Call, Function, parse_functions, parse_history
from pipeline.llm.offline_policy.observations import walk_leaves
from pipeline.llm.offline_policy.phrasing import (
    call_thought,
    final_answer,
    finish_thought,
    phrasing_rng,
    retry_thought,
)
from pipeline.llm.offline_policy.query_facts import QUOTED, QueryFacts
from pipeline.llm.offline_policy.values import fit_to_param
from pipeline.llm.offline_policy.words import positioned_stems
from pipeline.llm.types import ChatRequest

MAX_CALLS = 24  # give up (or answer) after this many calls in one conversation
MAX_FAILURES = 2  # failures of one function before moving on


class Decision:
    def __init__(self, request: ChatRequest, rng: random.Random) -> None:
        self.request = request
        self.rng = rng
        self.sample_index = request.sample_index
        self.functions = [f for f in parse_functions(request.tools) if f.name.lower() != FINISH.lower()]
        self.finish_name = next(
            (f.name for f in parse_functions(request.tools) if f.name.lower() == FINISH.lower()), FINISH
        )
        self.query, self.calls, self.diversity = parse_history(request.messages or [])
        vocabulary = (
            set().union(*(f.api_tokens | f.desc_tokens for f in self.functions)) if self.functions else set()
        )
        self.facts = QueryFacts(self.query, vocabulary)
        # what the query asks for, without the argument values it spells out: "(symbol 'LUMX')"
        # names a parameter, not a function to call
        self.bare = bare = QUOTED.sub(
            lambda m: " " * len(m.group(0)),
            re.sub(r"\([^)]*['\"\d][^)]*\)", lambda m: " " * len(m.group(0)), self.query),
        )
        positioned = positioned_stems(bare) or positioned_stems(self.query)
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
        # the wording is chosen apart from the search's own choices, so varying it changes no path
        self.phrasing = phrasing_rng(self.query, len(self.calls), self.sample_index, "phrasing")

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
            value, _ = fill_param(param, spec, self.facts, self.calls, {str(v) for v in args.values()})
            if value is None:
                value = banked_value(param, spec, 0)
            if value is None and spec:
                value = documented_values(spec)[0] if documented_values(spec) else None
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
            args[param] = fit_to_param(others[0], spec) if spec else others[0]
            note = f"'{param}' must be one of the listed values, so I use {json.dumps(args[param], ensure_ascii=False)}"
        elif re.search(r"must be (?:an? )?(integer|number|boolean|string|array|object)", low):
            param = next((p for p in params_named if p in args), None) or next(
                (p for p in args if p in low), None
            )
            if not param:
                return None
            named_type = re.search(r"must be (?:an? )?(\w+)", low)  # matches: the test above did
            spec = fn.properties.get(param) or {"type": named_type.group(1) if named_type else "string"}
            value = fit_to_param(args[param], spec)
            if value is None or value == args[param]:
                value, _ = fill_param(param, spec, self.facts, self.calls, set())
            if value is None or value == args[param]:
                value = banked_value(param, spec, 0)
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
                    value, _ = fill_param(param, spec, self.facts, self.calls, set(), alt=alt + attempt - 1)
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
        return (retry_thought(self.phrasing, fn.name, error, note), fn.name, args)

    def next_call(self) -> tuple[str, str, dict[str, Any]]:
        relevant = self.relevant()
        tried = self.tried_in_diversity()
        exhausted = {f.name for f in self.functions if len(self.failures(f.name)) >= MAX_FAILURES}

        def available(fn: Function) -> bool:
            return not self.succeeded(fn.name) and fn.name not in exhausted and fn.name not in tried

        candidates: list[tuple[Function, Fill]] = []
        for fn in relevant:
            if available(fn):
                fill = fill_arguments(fn, self.facts, self.calls, self.alternatives(fn))
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
                fill = fill_arguments(fn, self.facts, self.calls)
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
        lead = "earlier attempts from this state did not work, so I try something different" if diverse else ""
        if fallback:
            lead = (lead + "; " if lead else "") + (
                "none of the functions that match the request directly worked, so I try a related one")
        earlier: list[tuple[tuple[str, ...], Any]] = []
        for call in self.calls:
            if call.ok and call.response is not None:
                walk_leaves(call.response, (), earlier)
        returned = {json.dumps(value, sort_keys=True, default=str) for _, value in earlier}
        chained = {k: v for k, v in fill.arguments.items()
                   if json.dumps(v, sort_keys=True, default=str) in returned and not self._in_query(v)}
        first = not any(c.name in self.by_name for c in self.calls)
        return call_thought(self.phrasing, fn, fill.arguments, first=first, chained=chained, lead=lead)

    def _in_query(self, value: Any) -> bool:
        return re.search(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", self.query, re.IGNORECASE) is not None

    def answer(self) -> tuple[str, str, dict[str, Any]]:
        text = final_answer(self.phrasing, self.calls, self.by_name)
        return (finish_thought(self.phrasing), self.finish_name, {"return_type": "give_answer", "final_answer": text})

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
