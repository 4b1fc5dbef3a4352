"""Hand-made trajectory records, shaped as the annotate stage writes them, for the funnel tests."""

from __future__ import annotations

from typing import Any

import orjson

WEATHER_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "geocode_for_cityatlas", "description": "Find a city's coordinates.",
        "parameters": {"type": "object", "properties": {"name": {"type": "string", "example_value": "Paris"}},
                       "required": ["name"], "optional": []}}},
    {"type": "function", "function": {
        "name": "current_for_weather", "description": "Current weather at coordinates.",
        "parameters": {"type": "object",
                       "properties": {"lat": {"type": "number"}, "lon": {"type": "number"},
                                      "units": {"type": "string", "enum": ["metric", "imperial"]}},
                       "required": ["lat", "lon"], "optional": ["units"]}}},
    {"type": "function", "function": {
        "name": "Finish", "description": "Finish the task.",
        "parameters": {"type": "object", "properties": {
            "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
            "final_answer": {"type": "string"}}, "required": ["return_type"]}}},
]
IDS = {"geocode_for_cityatlas": ("cityatlas", "geocode"), "current_for_weather": ("weather", "current")}
LISBON = {"error": "", "response": {"name": "Lisbon", "lat": 38.72, "lon": -9.14}}
SUNNY = {"error": "", "response": {"temperature": 23.5, "conditions": "sunny"}}
QUERY = "What is the weather in Lisbon right now?"
ANSWER = "It is sunny in Lisbon, 23.5 degrees."


def step(name: str, arguments: Any, observation: dict[str, Any] | None = None) -> tuple[str, Any, Any]:
    return (name, arguments, observation)


def record(
    steps: list[tuple[str, Any, Any]],
    *,
    answer: str | None = ANSWER,
    finish: str = "give_answer",
    query: str = QUERY,
    query_id: Any = 1,
    group: str = "G1",
    relevant: list[list[str]] | None = None,
) -> dict[str, Any]:
    """A trajectory whose chosen path makes ``steps`` (name, arguments, observation) then Finish.

    ``arguments`` may be text (sent exactly, e.g. broken JSON) or a value (sent as JSON).
    ``finish=None``-like values: pass ``finish="give_up_and_restart"`` for a give-up path.
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are AutoGPT..."},
                                      {"role": "user", "content": f"\n{query}\nBegin!\n"}]
    nodes: list[dict[str, Any]] = [{"id": 0, "parent": None, "kind": "root", "status": "ok"}]
    finish_arguments: dict[str, Any] = {"return_type": finish}
    if answer is not None:
        finish_arguments["final_answer"] = answer
    all_steps = [*steps, ("Finish", finish_arguments, None)]
    for number, (name, arguments, observation) in enumerate(all_steps, start=1):
        call_id = f"call_{number}"
        text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
        messages.append({"role": "assistant", "content": f"Thought: step {number}", "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}]})
        tool_id, api_id = IDS.get(name, (None, None))
        nodes.append({"id": number, "parent": number - 1, "kind": "finish" if name == "Finish" else "call",
                      "name": name, "raw_arguments": text, "tool_call_id": call_id, "tool_id": tool_id,
                      "api_id": api_id, "observation": observation, "status": "ok"})
        if name != "Finish":
            messages.append({"role": "tool", "tool_call_id": call_id,
                             "content": orjson.dumps(observation).decode() if observation else ""})
    return {
        "query": query, "query_id": query_id, "group": group, "algorithm": "dfsdt",
        "finish_type": "give_answer" if finish == "give_answer" else "give_up",
        "final_answer": answer, "succeeded": finish == "give_answer",
        "tree": {"root": 0, "nodes": nodes}, "chosen_path": [n["id"] for n in nodes],
        "messages": messages, "tools": WEATHER_TOOLS,
        "counts": {"model_calls": len(all_steps), "api_calls": len(steps)},
        "relevant APIs": relevant if relevant is not None else [["CityAtlas", "geocode"], ["Weather", "current"]],
    }


def good_record(**options: Any) -> dict[str, Any]:
    return record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                   step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY)], **options)


def lookup(tool_name: str, api_name: str) -> tuple[str, str] | None:
    """The catalog as the offline judge sees it: the two weather-task APIs."""
    return {("cityatlas", "geocode"): ("cityatlas", "geocode"),
            ("weather", "current"): ("weather", "current")}.get((tool_name.lower(), api_name.lower()))
