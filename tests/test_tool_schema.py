"""What is sent to a model server is JSON Schema only (OpenAI strict mode, vLLM tool parsers)."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from pipeline.models import Api, Param, SourceRef, Tool
from pipeline.search.functions import FunctionCatalog
from pipeline.tool_schema import json_schema_only, model_tools

TOOL = Tool(id="t", tool_name="Hotels", source=SourceRef(kind="file", location="x.json", format="toolbench"),
            api_list=[Api(id="a", name="search", description="Find hotels",
                          required_parameters=[Param(name="city", example="Lisbon")],
                          optional_parameters=[Param(name="optional", type="NUMBER", default=3,
                                                     schema={"type": "integer", "nullable": True,
                                                             "example": 2, "examples": [5]})])])

NON_STANDARD = {"optional", "example_value", "example", "nullable", "x-example"}


def _keys(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = set(schema)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    found |= _keys(sub)
            elif isinstance(value, dict | list):
                found |= _keys(value)
        return found
    if isinstance(schema, list):
        return set().union(*(_keys(item) for item in schema)) if schema else set()
    return set()


def test_tools_sent_to_the_model_carry_no_toolbench_or_openapi_keys() -> None:
    catalog = FunctionCatalog([(TOOL, TOOL.api_list[0])])
    kept = catalog.tools()
    assert "optional" in kept[0]["function"]["parameters"]  # the ToolBench form is kept for trajectories
    sent = model_tools(kept)
    for tool in sent:
        parameters = tool["function"]["parameters"]
        jsonschema.Draft202012Validator.check_schema(parameters)
        properties = parameters.get("properties", {})
        for schema in properties.values():
            assert not (set(schema) & NON_STANDARD), schema
    properties = sent[0]["function"]["parameters"]["properties"]
    assert properties["city"]["examples"] == ["Lisbon"]
    # a *property* called "optional" survives; ToolBench's example_value (here the default) comes
    # first, then OpenAPI's example, then the schema's own list
    assert properties["optional"]["examples"] == [3, 2, 5]
    assert properties["optional"]["type"] == ["integer", "null"]
    assert sent[0]["function"]["parameters"]["required"] == ["city"]


schemas = st.recursive(
    st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "object", "array"])},
                          optional={"example": st.integers() | st.text(max_size=5),
                                    "example_value": st.integers(), "nullable": st.booleans(),
                                    "optional": st.lists(st.text(max_size=3), max_size=2),
                                    "examples": st.lists(st.integers(), max_size=2)}),
    lambda children: st.fixed_dictionaries({"type": st.just("object"),
                                            "properties": st.dictionaries(st.text(min_size=1, max_size=6), children,
                                                                          max_size=3)},
                                           optional={"optional": st.lists(st.text(max_size=3), max_size=2)}),
    max_leaves=8,
)


@given(schemas)
def test_any_schema_comes_out_as_valid_json_schema_without_extra_keys(schema: dict[str, Any]) -> None:
    cleaned = json_schema_only(schema)
    jsonschema.Draft202012Validator.check_schema(cleaned)

    def walk(node: dict[str, Any]) -> None:
        assert not (set(node) & NON_STANDARD)
        for sub in (node.get("properties") or {}).values():
            walk(sub)

    walk(cleaned)
    assert set(cleaned.get("properties", {})) == set(schema.get("properties", {}))
