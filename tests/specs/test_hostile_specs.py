"""Hostile and broken input: every file must come back quickly as a tool or a clear error.

Inputs that could hang or crash the reader (alias bombs, deep nesting) are read in a forked
child (``read_isolated``), so a regression fails its test instead of killing the test run.
"""

from __future__ import annotations

import codecs
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from pipeline.models import Tool
from pipeline.specs.document import (
    MAX_NESTING,
    DocumentError,
    NestingLimit,
    check_nesting,
    decode_text,
    nesting_limit,
    parse_document,
)
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceOutcome, SourceTask, read_source

ReadTool = Callable[..., Tool]
ReadSpec = Callable[..., SourceOutcome]
ReadIsolated = Callable[..., Any]

MINIMAL = """
openapi: 3.0.0
info: {title: Café ☕, version: '1', description: Crème brûlée}
paths:
  /a: {get: {operationId: a, responses: {'200': {description: ok}}}}
"""


def count_nodes(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(count_nodes(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(count_nodes(v) for v in value)
    return 1


def isolated_error(result: Any) -> str:
    """The error reason of an isolated read that must have failed cleanly."""
    assert result.failure is None, result.failure
    assert result.outcome.error is not None, "expected an error"
    return str(result.outcome.error.reason)


# -- YAML alias bombs and self-containing values ----------------------------------------------


def alias_bomb_anchors() -> str:
    """Anchors ``*l0`` ... ``*l9``: nine levels of ten-fold aliases, 10**9 strings if expanded."""
    lines = ["x-bomb:", "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def alias_bomb_spec() -> str:
    """The list bomb plus a schema bomb ``*s9`` of 10**9 schema nodes, reaching into a
    response schema, examples, descriptions and tags."""
    lines = ["x-schema-bomb:", "  s0: &s0 {type: string, description: lol}"]
    for i in range(1, 10):
        props = ", ".join(f"p{k}: *s{i - 1}" for k in range(10))
        # properties deepen the schema, allOf does not: the node budget must stop both
        lines.append(
            f"  s{i}: &s{i} {{type: object, properties: {{{props}}}, allOf: [*s{i - 1}, *s{i - 1}]}}"
        )
    return (
        alias_bomb_anchors()
        + "\n".join(lines)
        + """
openapi: 3.0.0
info: {title: Bomb, version: '1', description: *l7}
tags: *l9
paths:
  /bomb:
    get:
      operationId: bomb
      description: *l9
      tags: *l9
      parameters:
        - {name: q, in: query, description: *l9, schema: *s9, example: *l9}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: *s9
              example: *l9
"""
    )


@pytest.mark.timeout(30)
def test_yaml_alias_bomb_gives_truncated_schemas_quickly(read_isolated: ReadIsolated) -> None:
    result = read_isolated(alias_bomb_spec(), "bomb.yaml")

    assert result.failure is None, result.failure
    outcome = result.outcome
    assert outcome.error is None, outcome.error
    api = outcome.tools[0]["api_list"][0]
    assert api["response_schema"]["x-truncated"] is True
    assert any("schemas truncated" in w for w in outcome.warnings)
    assert count_nodes(api["response_schema"]) < 20 * ReadOptions().max_schema_nodes
    assert len(orjson.dumps(api["response_example"])) < 100_000
    assert len(orjson.dumps(api["required_parameters"] + api["optional_parameters"])) < 1_000_000
    assert len(orjson.dumps(outcome.tools)) < 5_000_000
    assert outcome.tools[0]["tool_description"].startswith("lol lol")
    assert len(outcome.tools[0]["tool_description"]) <= ReadOptions().max_description_chars
    assert len(api["description"]) <= ReadOptions().max_description_chars


GET_A = "paths: {/a: {get: {responses: {'200': {description: ok}}}}}"
# The bomb's anchors *l0 ... *l9 placed where the reader expects a short string.
BOMBED_FIELDS = {
    "parameter-in": (
        "openapi: 3.0.0\n"
        "paths: {/a: {get: {parameters: [{name: q, in: *l9}], responses: {'200': {description: ok}}}}}"
    ),
    "server-variable": (
        "openapi: 3.0.0\nservers: [{url: 'https://{v}.example', variables: {v: {default: *l9}}}]\n" + GET_A
    ),
    "security-scheme": (
        "openapi: 3.0.0\n"
        "components: {securitySchemes: {k: {type: apiKey, in: header, name: *l9},"
        " h: {type: http, scheme: *l9}}}\n" + GET_A
    ),
    "names-and-categories": (
        "openapi: 3.0.0\nx-apisguru-categories: *l9\n"
        "paths: {/a: {get: {operationId: *l9, summary: *l9, responses: {'200': {description: ok}}}}}"
    ),
    "swagger-schemes": "swagger: '2.0'\nschemes: *l9\nhost: h\n" + GET_A,
    "produces-consumes": (
        "swagger: '2.0'\nproduces: *l9\nconsumes: *l9\n"
        "paths: {/a: {post: {parameters: [{name: b, in: body, schema: {}}], responses: {'200': {}}}}}"
    ),
    "form-consumes": (
        "swagger: '2.0'\nconsumes: *l9\n"
        "paths: {/a: {post: {parameters: [{name: f, in: formData, type: string}], responses: {'200': {}}}}}"
    ),
    "swagger-field": "swagger: *l9\n" + GET_A,
}


@pytest.mark.parametrize("document", BOMBED_FIELDS.values(), ids=BOMBED_FIELDS.keys())
@pytest.mark.timeout(30)
def test_alias_bomb_in_any_string_field_is_read_quickly(read_isolated: ReadIsolated, document: str) -> None:
    result = read_isolated(
        alias_bomb_anchors() + "info: {title: Bomb, version: '1'}\n" + document + "\n",
        "bomb.yaml",
        timeout=10,
    )

    assert result.failure is None, result.failure
    assert len(orjson.dumps(result.outcome.tools)) < 100_000


@pytest.mark.timeout(30)
def test_self_containing_yaml_aliases_in_schemas_examples_and_descriptions_are_cut(
    read_isolated: ReadIsolated,
) -> None:
    spec = """
        openapi: 3.0.0
        info: {title: Loops, version: '1', description: &d [text, *d]}
        paths:
          /a:
            get:
              operationId: loops
              description: &od {text: looping, again: *od}
              parameters:
                - name: q
                  in: query
                  schema: &s {type: object, properties: {self: *s}, enum: &e [*e], items: &i [*i]}
                  example: &x [*x]
              responses:
                '200':
                  description: ok
                  content:
                    application/json:
                      schema: &r {type: array, items: *r, allOf: [*r]}
                      example: &y {me: *y}
    """
    result = read_isolated(spec, "loops.yaml")

    assert result.failure is None, result.failure
    assert result.outcome.error is None, result.outcome.error
    tool = Tool.model_validate(result.outcome.tools[0])
    api = tool.api_list[0]
    assert tool.tool_description.startswith("text")
    assert api.description.startswith("looping")
    assert api.response_schema == {"type": "array", "items": {}}
    assert api.parameters[0].schema_["properties"] == {"self": {}}
    assert isinstance(api.parameters[0].example, list)
    assert isinstance(api.response_example, dict)


@pytest.mark.parametrize(
    "options",
    [ReadOptions(), ReadOptions(max_schema_depth=64, max_schema_nodes=500)],
    ids=["cut-by-depth", "cut-by-budget"],
)
@pytest.mark.timeout(30)
def test_exponential_ref_dag_is_truncated_within_the_node_budget(
    read_isolated: ReadIsolated, options: ReadOptions
) -> None:
    schemas: dict[str, Any] = {
        f"S{i}": {
            "type": "object",
            "properties": {
                "left": {"$ref": f"#/components/schemas/S{i + 1}"},
                "right": {"$ref": f"#/components/schemas/S{i + 1}"},
            },
        }
        for i in range(40)
    }
    schemas["S40"] = {"type": "string"}
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "DAG", "version": "1"},
        "paths": {
            "/dag": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}},
                        }
                    },
                }
            }
        },
        "components": {"schemas": schemas},
    }

    result = read_isolated(spec, "dag.json", options=options)

    assert result.failure is None, result.failure
    api = result.outcome.tools[0]["api_list"][0]
    assert has_truncation(api["body_schema"]) and has_truncation(api["response_schema"])
    kept = count_nodes(api["body_schema"]) + count_nodes(api["response_schema"])
    assert kept < 5 * options.max_schema_nodes  # one budget for the whole API, a few JSON nodes per schema


def has_truncation(schema: Any) -> bool:
    if isinstance(schema, dict):
        return schema.get("x-truncated") is True or any(has_truncation(v) for v in schema.values())
    return False


# -- deep nesting -----------------------------------------------------------------------------

DEEP = 100_000
HEADER = "openapi: 3.0.0\ninfo: {title: Deep, version: '1'}\nx-deep: "


@pytest.mark.parametrize(
    "content",
    [
        HEADER + "[" * DEEP + "]" * DEEP,
        HEADER + "{a: " * DEEP + "}" * DEEP,
        HEADER + "\n" + "- " * DEEP + "x\n",
        HEADER + "\n" + "? " * DEEP + "x\n",
        HEADER + "\n" + "- ? " * DEEP + "x\n",
        HEADER + "\n" + "-   " * DEEP + "x\n",
        codecs.BOM_UTF16_LE + (HEADER + "\n" + "- " * DEEP + "x\n").encode("utf-16-le"),
        codecs.BOM_UTF16_BE + (HEADER + "[" * DEEP).encode("utf-16-be"),
    ],
    ids=[
        "flow-sequence",
        "flow-mapping",
        "dash-chain",
        "question-chain",
        "mixed-chain",
        "spaced-dashes",
        "utf16-dash-chain",
        "utf16-flow",
    ],
)
@pytest.mark.timeout(30)
def test_yaml_nested_a_hundred_thousand_deep_is_refused_without_crashing(
    read_isolated: ReadIsolated, content: str | bytes
) -> None:
    result = read_isolated(content, "deep.yaml")

    assert f"nesting deeper than {nesting_limit().levels} levels" in isolated_error(result)
    assert result.outcome.error.stage == "parse"


@pytest.mark.timeout(30)
def test_deeply_nested_json_is_refused_without_crashing(read_isolated: ReadIsolated) -> None:
    content = '{"openapi": "3.0.0", "info": {"title": "Deep"}, "x": ' + "[" * DEEP + "]" * DEEP + "}"

    result = read_isolated(content, "deep.json")

    assert f"nesting deeper than {nesting_limit().levels} levels" in isolated_error(result)


NEARLY_DEEP = "openapi: 3.0.0\ninfo: {title: Nearly deep, version: '1'}\npaths: {/a: {get: {responses: {'200': {description: ok}}}}}\n"


def _nested(shape: str, depth: int) -> str:
    if shape == "flow-sequence":
        return "[" * depth + "]" * depth
    if shape == "flow-mapping":
        return "{a: " * depth + "}" * depth
    return "\n  " + "- " * depth + "x"


@pytest.mark.parametrize("shape", ["flow-sequence", "flow-mapping", "dash-chain"])
def test_nesting_at_the_limit_is_read_by_the_installed_parser(read_tool: ReadTool, shape: str) -> None:
    content = NEARLY_DEEP + "x-deep: " + _nested(shape, nesting_limit().levels)

    assert read_tool(content, "nearly.yaml").tool_name == "Nearly deep"


@pytest.mark.parametrize("shape", ["flow-sequence", "flow-mapping", "dash-chain"])
def test_nesting_just_over_the_limit_is_refused_naming_the_limit(read_spec: ReadSpec, shape: str) -> None:
    limit = nesting_limit()

    outcome = read_spec(NEARLY_DEEP + "x-deep: " + _nested(shape, limit.levels + 1), "deep.yaml")

    assert outcome.error is not None
    assert outcome.error.stage == "parse"
    assert f"nesting deeper than {limit.levels} levels" in outcome.error.reason
    assert limit.source in outcome.error.reason


def test_the_limit_sits_below_what_the_installed_yaml_parser_accepts() -> None:
    limit = nesting_limit()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    assert 100 <= limit.levels <= MAX_NESTING
    yaml.load("[" * limit.levels + "]" * limit.levels, Loader=loader)  # noqa: S506 - a safe loader
    yaml.load("- " * limit.levels + "x", Loader=loader)  # noqa: S506


def test_deep_description_in_a_spec_is_cut_not_an_error(read_tool: ReadTool) -> None:
    depth = nesting_limit().levels - 10  # deeper than text_of looks, still within the parser's limit
    spec = (
        "openapi: 3.0.0\ninfo: {title: T, version: '1', description: "
        + "[" * depth
        + "deep"
        + "]" * depth
        + "}\n"
    )
    spec += "paths: {/a: {get: {responses: {'200': {description: ok}}}}}\n"

    assert read_tool(spec).tool_description == "T"  # the text is deeper than text_of looks


def test_check_nesting_lets_ordinary_documents_through() -> None:
    ordinary = (
        b"list:\n" + b"  - - a\n    - b\n" * 3000 + b"flow: " + b"[" * 100 + b"]" * 100 + b"\nq: '[[[['\n"
    )

    check_nesting(ordinary)  # many brackets and dashes in total, but never deep
    with pytest.raises(DocumentError, match="nesting deeper than 50 levels \\(a test limit\\)"):
        check_nesting(b"[" * 51, NestingLimit(50, "a test limit"))
    check_nesting(b"[" * 50, NestingLimit(50, "a test limit"))


# -- sizes and encodings ----------------------------------------------------------------------


def test_file_over_the_size_cap_is_refused_before_reading(read_spec: ReadSpec) -> None:
    outcome = read_spec(MINIMAL + "#" + "x" * 2000 + "\n", options=ReadOptions(max_file_bytes=1000))

    assert outcome.error is not None
    assert outcome.error.stage == "read"
    assert "over the cap of 1000 bytes" in outcome.error.reason


def test_missing_file_is_a_read_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone.yaml"

    outcome = read_source(SourceTask(path=missing, location=str(missing)), ReadOptions())

    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason) == ("read", "cannot read: No such file or directory")


@pytest.mark.parametrize("content", [b"", b"   \n\t\n"], ids=["empty", "whitespace"])
def test_empty_file_is_a_parse_error(read_spec: ReadSpec, content: bytes) -> None:
    outcome = read_spec(content)

    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason) == ("parse", "file is empty")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_binary_garbage_is_an_error_not_a_crash(read_spec: ReadSpec, seed: int) -> None:
    garbage = random.Random(seed).randbytes(4096)

    outcome = read_spec(garbage, "garbage.yaml")

    assert outcome.error is not None
    assert outcome.error.stage in ("parse", "normalise")
    assert outcome.tools == []


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: text.encode("utf-16-le"),
        lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
    ],
    ids=["utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le-no-bom", "utf32le-bom"],
)
@pytest.mark.parametrize("name", ["spec.yaml", "spec.json"])
def test_unicode_encodings_with_and_without_bom_are_decoded(
    read_tool: ReadTool, encode: Callable[[str], bytes], name: str
) -> None:
    text = (
        MINIMAL
        if name.endswith(".yaml")
        else orjson.dumps(parse_document(MINIMAL.encode(), "m.yaml")).decode()
    )

    tool = read_tool(encode(text), name)

    assert (tool.tool_name, tool.tool_description) == ("Café ☕", "Crème brûlée")


def test_windows_1252_bytes_are_decoded(read_tool: ReadTool) -> None:
    text = MINIMAL.replace("Café ☕", "Café").replace("Crème brûlée", "\u201cCrème brûlée\u201d")

    tool = read_tool(text.encode("cp1252"))

    assert (tool.tool_name, tool.tool_description) == ("Café", "\u201cCrème brûlée\u201d")


def test_bytes_that_are_not_even_windows_1252_fall_back_to_latin_1() -> None:
    assert decode_text(b"caf\xe9 \x81") == "café \x81"


# -- odd but parseable documents --------------------------------------------------------------


def test_json_with_trailing_commas_is_read_by_the_yaml_fallback(read_tool: ReadTool) -> None:
    content = (
        '{"openapi": "3.0.0", "info": {"title": "Sloppy", "version": "1",},'
        ' "paths": {"/a": {"get": {"responses": {"200": {"description": "ok",},},},},},}'
    )

    assert read_tool(content, "sloppy.json").tool_name == "Sloppy"


def test_broken_json_is_reported_as_json(read_spec: ReadSpec) -> None:
    outcome = read_spec('{"openapi": "3.0.0", "info": {"title": ', "broken.json")

    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason.startswith("not valid JSON")) == ("parse", True)


def test_broken_yaml_is_reported_as_yaml(read_spec: ReadSpec) -> None:
    outcome = read_spec("openapi: 3.0.0\ninfo: [unclosed\n")

    assert outcome.error is not None
    assert outcome.error.reason.startswith("not valid YAML")


def test_yaml_python_tags_are_not_executed(read_spec: ReadSpec) -> None:
    outcome = read_spec("openapi: 3.0.0\ninfo: !!python/object/apply:os.system ['echo pwned']\n")

    assert outcome.error is not None and outcome.error.reason.startswith("not valid YAML")


def test_impossible_yaml_dates_stay_strings_and_real_ones_become_iso_text(read_tool: ReadTool) -> None:
    spec = """
        openapi: 3.0.0
        info: {title: Dates, version: 2024-01-31}
        paths:
          /a:
            get:
              parameters:
                - {name: since, in: query, schema: {type: string, format: date}, example: 2021-02-30}
                - {name: until, in: query, schema: {type: string, format: date, default: 2021-02-28}}
              responses: {'200': {description: ok}}
    """
    tool = read_tool(spec)

    since, until = tool.api_list[0].parameters
    assert since.example == "2021-02-30"
    assert (until.default, until.schema_["default"]) == ("2021-02-28", "2021-02-28")
    assert tool.version == "2024-01-31"


def test_yaml_integers_too_big_for_json_are_kept_as_digits(read_tool: ReadTool) -> None:
    spec = """
        openapi: 3.0.0
        info: {title: Big, version: '1'}
        paths:
          /a:
            get:
              parameters:
                - name: id
                  in: query
                  schema: {type: integer, maximum: 99999999999999999999999}
                  example: 123456789012345678901234567890
              responses: {'200': {description: ok}}
    """
    tool = read_tool(spec)

    param = tool.api_list[0].parameters[0]
    assert param.example == "123456789012345678901234567890"
    assert param.schema_["maximum"] == "99999999999999999999999"
    orjson.dumps(tool.dump())  # what the catalog writer does


def test_yaml_integer_over_python_digit_limit_is_a_parse_error(read_spec: ReadSpec) -> None:
    outcome = read_spec(MINIMAL + "x-big: " + "9" * 5000 + "\n")

    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason.startswith("not valid YAML")) == ("parse", True)


# -- documents of the wrong shape -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kind"),
    [("- openapi\n- 3.0.0\n", "list"), ("just a sentence\n", "str"), ("42\n", "int"), ("~\n", "NoneType")],
)
def test_yaml_document_that_is_not_a_mapping_is_not_a_spec(
    read_spec: ReadSpec, content: str, kind: str
) -> None:
    outcome = read_spec(content)

    assert outcome.error is not None
    assert outcome.error.stage == "normalise"
    assert outcome.error.reason == f"not an OpenAPI, Swagger or ToolBench document (top level is a {kind})"


def test_mapping_that_is_no_known_format_names_its_keys(read_spec: ReadSpec) -> None:
    outcome = read_spec({"name": "x", "swagger_version": 2})

    assert outcome.error is not None
    assert (
        outcome.error.reason
        == "not an OpenAPI, Swagger or ToolBench document (top-level keys: name, swagger_version)"
    )


def test_local_apisguru_index_tells_to_pass_its_url(read_spec: ReadSpec) -> None:
    index = {
        "1forge.com": {
            "added": "2017-05-30",
            "preferred": "0.0.1",
            "versions": {"0.0.1": {"swaggerUrl": "https://x/swagger.json"}},
        },
        "amazonaws.com:s3": {"preferred": "2006-03-01", "versions": {}},
    }

    outcome = read_spec(index, "list.json")

    assert outcome.error is not None
    assert outcome.error.reason == "an APIs.guru-style index: pass its URL to collect the specs it lists"


def test_spec_without_operations_is_an_error(read_spec: ReadSpec) -> None:
    outcome = read_spec(
        {"openapi": "3.0.0", "info": {"title": "Empty", "version": "1"}, "paths": {}}, "empty.json"
    )

    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason) == ("normalise", "no operations found")


@pytest.mark.parametrize("paths", [["/a", "/b"], "/a", 7, None])
def test_paths_that_are_not_a_mapping_leave_no_operations(read_spec: ReadSpec, paths: Any) -> None:
    outcome = read_spec(
        {"openapi": "3.0.0", "info": {"title": "Bad", "version": "1"}, "paths": paths}, "bad.json"
    )

    assert outcome.error is not None
    assert outcome.error.reason == "no operations found (1 skipped: document has no 'paths' object)"


def test_malformed_operations_and_path_items_are_skipped_and_the_rest_read(read_tool: ReadTool) -> None:
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "Mixed", "version": "1"},
        "paths": {
            "/list-op": {"get": [{"responses": {}}], "post": "nope", "put": None},
            "/string-item": "not a path item",
            "/bad-params": {"get": {"parameters": "limit", "responses": {"200": {"description": "ok"}}}},
            "/bad-responses": {"get": {"responses": ["200"]}},
            "/ok": {
                "get": {"operationId": "ok", "parameters": [{"name": "x", "in": "query", "schema": "string"}]}
            },
        },
    }

    tool = read_tool(spec, "mixed.json")

    assert sorted(api.path for api in tool.api_list) == ["/bad-params", "/bad-responses", "/ok"]
    ok = next(api for api in tool.api_list if api.name == "ok")
    assert [(p.name, p.schema_) for p in ok.parameters] == [("x", {})]


@pytest.mark.parametrize(
    ("description", "text"),
    [
        (["Line one.", "Line two."], "Line one. Line two."),
        ({"en": "English", "fr": "Français"}, "English Français"),
        (42, "42"),
        (None, ""),
        (True, "True"),
        (3.5, "3.5"),
    ],
    ids=["list", "dict", "int", "null", "bool", "float"],
)
def test_descriptions_that_are_not_strings_become_text(
    read_tool: ReadTool, description: Any, text: str
) -> None:
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "Odd", "version": 3, "description": description},
        "paths": {
            "/a": {
                "get": {
                    "summary": description,
                    "description": description,
                    "operationId": description,
                    "tags": [description, "fine"],
                    "parameters": [
                        {
                            "name": "p",
                            "in": "query",
                            "description": description,
                            "schema": {"type": "string", "description": description},
                        }
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }

    tool = read_tool(spec, "odd.json")

    api = tool.api_list[0]
    assert tool.tool_description == (text or "Odd")
    assert tool.version == "3"
    assert api.description == text
    assert api.name == (text or "GET /a")
    assert api.parameters[0].description == text
    assert api.parameters[0].schema_.get("description", "") == text
    assert api.tags == ([text, "fine"] if text else ["fine"])
