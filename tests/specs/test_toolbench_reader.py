"""ToolBench tool documents: reading them into the catalog, and writing catalog tools back out
so that reading the written document gives the same tool."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.io import read_json
from pipeline.models import Tool
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceOutcome, SourceTask, read_source
from pipeline.toolbench.documents import (
    export_toolbench,
    is_toolbench_tool,
    tool_to_toolbench,
    toolbench_category_dir,
)

ReadTool = Callable[..., Tool]
ReadSpec = Callable[..., SourceOutcome]

WEATHER_TOOLBENCH: dict[str, Any] = {
    "product_id": "api_123",
    "tool_description": "Realtime weather and forecasts.",
    "home_url": "https://rapidapi.com/weatherapi/api/weatherapi-com/",
    "name": "WeatherAPI.com",
    "title": "WeatherAPI.com",
    "pricing": "FREEMIUM",
    "tool_name": "WeatherAPI.com",
    "score": {"avgServiceLevel": 100, "avgLatency": 200},
    "host": "weatherapi-com.p.rapidapi.com",
    "standardized_name": "weatherapi_com",
    "api_list": [
        {
            "name": "Realtime Weather API",
            "url": "https://weatherapi-com.p.rapidapi.com/current.json",
            "description": "Current weather for a place.",
            "method": "GET",
            "required_parameters": [
                {"name": "q", "type": "STRING", "description": "City or lat,lon", "default": "53.1,-0.13"}
            ],
            "optional_parameters": [
                {"name": "days", "type": "NUMBER", "description": "Forecast days", "default": "3"},
                {"name": "aqi", "type": "BOOLEAN", "description": "", "default": ""},
                {"name": "dt", "type": "DATE (YYYY-MM-DD)", "description": "Date", "default": ""},
            ],
            "code": "200",
            "statuscode": 200,
            "schema": {"type": "object", "properties": {"location": {"type": "object"}}},
            "template_response": {
                "location": {"name": "str", "lat": "float"},
                "current": {"temp_c": "float"},
            },
        },
        {
            "name": "Forecast by city",
            "url": "https://weatherapi-com.p.rapidapi.com/forecast/{city}/days/:days",
            "description": "",
            "method": "get",
            "required_parameters": [
                {"name": "city", "type": "STRING", "description": "", "default": "Oslo"},
                {"name": "days", "type": "NUMBER", "description": "", "default": 3},
            ],
            "optional_parameters": [],
            "schema": "",
        },
        {
            "name": "Report weather",
            "url": "https://weatherapi-com.p.rapidapi.com/reports",
            "method": "POST",
            "required_parameters": [{"name": "temp", "type": "NUMBER", "description": "", "default": ""}],
            "optional_parameters": [{"name": "note", "type": "STRING", "description": "", "default": ""}],
        },
        {"url": "https://weatherapi-com.p.rapidapi.com/nameless", "method": "GET"},
    ],
}


def api_named(tool: Tool, name: str) -> Any:
    return next(api for api in tool.api_list if api.name == name)


def test_toolbench_document_becomes_one_tool(read_tool: ReadTool) -> None:
    tool = read_tool(WEATHER_TOOLBENCH, "Weather/weatherapi_com.json")

    assert tool.source.format == "toolbench"
    assert (tool.tool_name, tool.title, tool.standardized_name) == (
        "WeatherAPI.com",
        "WeatherAPI.com",
        "weatherapi_com",
    )
    assert tool.tool_description == "Realtime weather and forecasts."
    assert tool.base_url == "https://weatherapi-com.p.rapidapi.com"
    assert [api.name for api in tool.api_list] == [
        "Realtime Weather API",
        "Forecast by city",
        "Report weather",
    ]


def test_nameless_api_is_skipped_with_a_warning(read_spec: ReadSpec) -> None:
    outcome = read_spec(WEATHER_TOOLBENCH, "weather.json")

    assert outcome.warnings == ["api_list[3]: no name, skipped"]


def test_toolbench_api_fields_and_parameters(read_tool: ReadTool) -> None:
    api = api_named(read_tool(WEATHER_TOOLBENCH, "weather.json"), "Realtime Weather API")

    assert (api.url, api.method, api.path) == (
        "https://weatherapi-com.p.rapidapi.com/current.json",
        "GET",
        "/current.json",
    )
    assert api.description == "Current weather for a place."
    assert [(p.name, p.type, p.location, p.required, p.default) for p in api.parameters] == [
        ("q", "STRING", "query", True, "53.1,-0.13"),
        ("days", "NUMBER", "query", False, "3"),
        ("aqi", "BOOLEAN", "query", False, ""),
        ("dt", "DATE (YYYY-MM-DD)", "query", False, ""),
    ]
    assert [p.schema_ for p in api.parameters] == [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string", "format": "date"},
    ]
    assert api.parameters[0].description == "City or lat,lon"


def test_toolbench_schema_and_template_response_are_kept(read_tool: ReadTool) -> None:
    tool = read_tool(WEATHER_TOOLBENCH, "weather.json")

    realtime = api_named(tool, "Realtime Weather API")
    assert realtime.response_schema == {"type": "object", "properties": {"location": {"type": "object"}}}
    assert realtime.template_response == {
        "location": {"name": "str", "lat": "float"},
        "current": {"temp_c": "float"},
    }
    assert api_named(tool, "Forecast by city").response_schema is None  # ToolBench writes "" for none


def test_path_parameters_are_found_in_the_url(read_tool: ReadTool) -> None:
    api = api_named(read_tool(WEATHER_TOOLBENCH, "weather.json"), "Forecast by city")

    assert api.method == "GET"
    assert [(p.name, p.location) for p in api.parameters] == [("city", "path"), ("days", "path")]
    assert api.parameters[1].default == 3


def test_non_path_parameters_of_a_post_go_in_the_body(read_tool: ReadTool) -> None:
    api = api_named(read_tool(WEATHER_TOOLBENCH, "weather.json"), "Report weather")

    assert [(p.name, p.location, p.required) for p in api.parameters] == [
        ("temp", "body", True),
        ("note", "body", False),
    ]


def test_category_comes_from_the_folder_when_the_document_has_none(read_tool: ReadTool) -> None:
    from_folder = read_tool(WEATHER_TOOLBENCH, "weather.json", folder_category="Weather")
    declared = read_tool({**WEATHER_TOOLBENCH, "category": "Data"}, "weather.json", folder_category="Weather")
    neither = read_tool(WEATHER_TOOLBENCH, "weather.json")

    assert (from_folder.category, from_folder.category_origin) == ("Weather", "folder")
    assert (declared.category, declared.category_origin) == ("Data", "toolbench")
    assert (neither.category, neither.category_origin) == ("Uncategorized", "default")


def test_tool_name_falls_back_to_title_and_description_to_the_name(read_tool: ReadTool) -> None:
    document = {"title": "Jokes", "api_list": [{"name": "random", "url": "https://jokes.example/random"}]}

    tool = read_tool(document, "jokes.json")

    assert (tool.tool_name, tool.title, tool.tool_description) == ("Jokes", "Jokes", "Jokes")
    assert api_named(tool, "random").method == "GET"


@pytest.mark.parametrize(
    "document",
    [
        {"tool_name": "x"},
        {"tool_name": "x", "api_list": "not a list"},
        {"api_list": []},
        ["tool_name", "api_list"],
    ],
)
def test_documents_without_a_name_and_an_api_list_are_not_toolbench_tools(document: Any) -> None:
    assert is_toolbench_tool(document) is False


def test_toolbench_document_with_no_usable_api_is_an_error(read_spec: ReadSpec) -> None:
    outcome = read_spec({"tool_name": "Empty", "api_list": [None, {"name": ""}]}, "empty.json")

    assert outcome.error is not None and outcome.error.reason.startswith("no operations found")


# Found by tests/specs/test_properties.py. pipeline/toolbench/documents.py is outside this change;
# the per-source boundary records each of these as the document's error ("could not be
# understood"), so collect goes on, but the whole tool is lost over one odd field. The property
# test's ToolBench documents avoid these shapes until they are fixed (KNOWN_TOOLBENCH_BUGS there).
@pytest.mark.parametrize("auth", [None, 7, True])
def test_an_auth_field_that_is_not_a_list_costs_only_the_auth(read_spec: ReadSpec, auth: Any) -> None:
    document = {"tool_name": "Odd auth", "auth": auth, "api_list": [{"name": "a", "url": "https://h/a"}]}
    outcome = read_spec(document, "odd.json")
    assert outcome.error is None, outcome.error


def test_an_auth_entry_that_is_not_an_auth_costs_only_that_entry(read_spec: ReadSpec) -> None:
    document = {"tool_name": "Odd auth", "auth": [{}, {"kind": 3}], "api_list": [{"name": "a", "url": "https://h/a"}]}
    outcome = read_spec(document, "odd.json")
    assert outcome.error is None, outcome.error


@pytest.mark.parametrize("url", ["http://[domain]:8080/a", "http://[/a"])
def test_an_api_url_that_does_not_parse_is_kept_as_written(read_spec: ReadSpec, url: str) -> None:
    outcome = read_spec({"tool_name": "Odd url", "api_list": [{"name": "a", "url": url}]}, "odd.json")
    assert outcome.error is None, outcome.error


@pytest.mark.timeout(20)
def test_self_containing_yaml_values_in_a_toolbench_document_are_cut(read_spec: ReadSpec) -> None:
    document = """
        tool_name: Loops
        api_list:
          - name: a
            url: https://loops.example/a
            required_parameters:
              - name: q
                type: STRING
                schema: &s {type: object, properties: {self: *s}}
                enum: &e [x, *e]
            body_schema: &b {type: object, properties: {again: *b}}
            response_schema: &r {type: array, items: *r}
            response_example: &x [*x]
    """
    outcome = read_spec(document, "loops.yaml")

    assert outcome.error is None, outcome.error
    api = outcome.tools[0]["api_list"][0]
    schema = api["required_parameters"][0]["schema"]
    assert schema["properties"]["self"]["properties"]["self"]["type"] == "object"
    assert api["required_parameters"][0]["enum"][0] == "x"


@pytest.mark.timeout(20)
def test_alias_bomb_in_a_toolbench_schema_is_cut_quickly(read_isolated: Callable[..., Any]) -> None:
    levels = ["a0: &a0 {type: string, description: lol}"]
    for i in range(1, 10):
        refs = ", ".join(f"p{k}: *a{i - 1}" for k in range(10))
        levels.append(f"a{i}: &a{i} {{type: object, properties: {{{refs}}}}}")
    document = (
        "x-bomb:\n"
        + "".join(f"  {line}\n" for line in levels)
        + "tool_name: Bomb\napi_list:\n  - name: a\n    url: https://bomb.example/a\n"
        + "    body_schema: *a9\n    response_schema: *a9\n"
        + "    required_parameters: [{name: q, type: OBJECT, schema: *a9}]\n"
    )

    result = read_isolated(document, "bomb.yaml")

    assert result.failure is None
    assert result.outcome is not None and result.outcome.error is None


# -- round trip -------------------------------------------------------------------------------

ROUND_TRIP_SPEC = """
openapi: 3.0.3
info:
  title: Library
  version: '4.2'
  description: Books, loans and members.
  x-apisguru-categories: [education]
servers: [{url: 'https://library.example/api'}]
security: [{key: []}]
paths:
  /books/{isbn}:
    parameters:
      - name: isbn
        in: path
        description: The ISBN
        schema: {type: string, pattern: '^[0-9-]+$'}
        example: 978-3
    get:
      operationId: getBook
      summary: One book
      tags: [books]
      parameters:
        - {name: format, in: query, schema: {type: string, enum: [short, full], default: short}}
        - {name: X-Locale, in: header, schema: {type: string}}
        - {name: with_loans, in: query, schema: {type: boolean}}
        - {name: fields, in: query, schema: {type: array, items: {type: string}}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Book'}
              example: {isbn: 978-3, title: Dune}
  /loans:
    post:
      operationId: createLoan
      deprecated: true
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [isbn, member]
              properties:
                isbn: {type: string}
                member: {type: integer, minimum: 1}
                until: {type: string, format: date}
                notes: {type: object, properties: {text: {type: string}}}
      responses:
        '201':
          description: created
          content: {application/json: {schema: {type: object, properties: {id: {type: integer}}}}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
  schemas:
    Book:
      type: object
      properties:
        isbn: {type: string}
        title: {type: string}
        author:
          type: object
          properties:
            name: {type: string}
            address:
              type: object
              properties:
                city:
                  type: object
                  properties:
                    name: {type: string}
                    country: {type: object, properties: {code: {type: string, maxLength: 2}}}
        editions: {type: array, items: {type: array, items: {type: integer, nullable: true}}}
        cover: {oneOf: [{type: string}, {type: object, properties: {url: {type: string}}}]}
"""


ROUND_TRIP_SWAGGER = """
swagger: '2.0'
info: {title: Uploads, version: '1'}
host: files.example
basePath: /v1
tags: [{name: Storage}]
securityDefinitions: {basic: {type: basic}}
paths:
  /files/{id}:
    put:
      operationId: putFile
      consumes: [multipart/form-data]
      parameters:
        - {name: id, in: path, type: integer, format: int64}
        - {name: content, in: formData, type: file, required: true}
        - {name: tags, in: formData, type: array, items: {type: string}}
        - {name: X-Checksum, in: header, type: string, x-example: abc}
      responses:
        200: {description: ok, schema: {type: object, properties: {size: {type: integer}}}}
    post:
      operationId: describeFile
      parameters:
        - name: id
          in: path
          type: integer
        - name: meta
          in: body
          required: true
          schema: {type: object, required: [title], properties: {title: {type: string}, public: {type: boolean}}}
      responses: {default: {description: ok}}
"""


@pytest.mark.parametrize(
    ("spec", "category"),
    [(ROUND_TRIP_SPEC, "Education"), (ROUND_TRIP_SWAGGER, "Storage")],
    ids=["openapi", "swagger"],
)
def test_an_openapi_tool_written_as_toolbench_reads_back_the_same(
    read_tool: ReadTool, spec: str, category: str
) -> None:
    original = read_tool(spec, "library.yaml")

    back = read_tool(tool_to_toolbench(original), "Elsewhere/library.json", folder_category="Elsewhere")

    assert back.source.format == "toolbench"
    assert back.api_list == original.api_list
    assert (original.category, back.category, back.category_origin) == (category, category, "toolbench")
    assert (back.tool_name, back.title, back.tool_description) == (
        original.tool_name,
        original.title,
        original.tool_description,
    )
    assert (back.base_url, back.version, back.auth) == (original.base_url, original.version, original.auth)


def test_round_trip_keeps_parameter_details_and_schemas(read_tool: ReadTool) -> None:
    original = read_tool(ROUND_TRIP_SPEC, "library.yaml")
    back = read_tool(tool_to_toolbench(original), "library.json")

    book, loan = api_named(back, "getBook"), api_named(back, "createLoan")
    assert [(p.name, p.type, p.location, p.required) for p in book.parameters] == [
        ("isbn", "STRING", "path", True),
        ("format", "ENUM", "query", False),
        ("X-Locale", "STRING", "header", False),
        ("with_loans", "BOOLEAN", "query", False),
        ("fields", "ARRAY", "query", False),
    ]
    isbn = book.parameters[0]
    assert (isbn.description, isbn.example, isbn.schema_) == (
        "The ISBN",
        "978-3",
        {"type": "string", "pattern": "^[0-9-]+$"},
    )
    assert (book.parameters[1].enum, book.parameters[1].default) == (["short", "full"], "short")
    deep = book.response_schema["properties"]["author"]["properties"]["address"]["properties"]["city"]
    assert deep["properties"]["country"]["properties"]["code"] == {"type": "string", "maxLength": 2}
    assert book.template_response["author"]["address"]["city"]["country"] == {"code": "str"}
    assert [(p.name, p.type, p.location, p.required) for p in loan.parameters] == [
        ("isbn", "STRING", "body", True),
        ("member", "NUMBER", "body", True),
        ("until", "DATE (YYYY-MM-DD)", "body", False),
        ("notes", "OBJECT", "body", False),
    ]
    assert loan.body_schema == original.api_list[1].body_schema
    assert (loan.body_content_type, loan.deprecated) == ("application/json", True)


def test_export_writes_category_folders_that_read_back(tmp_path: Path, read_tool: ReadTool) -> None:
    tool = read_tool(ROUND_TRIP_SPEC, "library.yaml")
    tool.id = "library"
    tool.category = "Developer Tools"

    assert export_toolbench([tool], tmp_path / "out") == 1

    written = tmp_path / "out" / "Developer_Tools" / "library.json"
    assert read_json(written)["api_list"][0]["name"] == "getBook"
    outcome = read_source(
        SourceTask(path=written, location=str(written), folder_category="Developer_Tools"), ReadOptions()
    )
    assert outcome.error is None
    back = Tool.model_validate(outcome.tools[0])
    assert (back.category, back.api_list) == ("Developer Tools", tool.api_list)


@pytest.mark.parametrize(
    ("category", "folder"),
    [
        ("Developer Tools", "Developer_Tools"),
        ("Food, Drink", "Food__Drink"),
        ("Data/Analytics", "Data_Analytics"),
        ("", "Uncategorized"),
    ],
)
def test_toolbench_category_folder_names(category: str, folder: str) -> None:
    assert toolbench_category_dir(category) == folder
