"""Behaviour of the OpenAPI 3.0 / 3.1 and Swagger 2.0 reader, through ``read_source``.

Each test writes a small spec to a temporary folder (see ``conftest.py``) and checks what the
catalog tool made from it looks like: naming, base URL, parameters, bodies, responses, auth,
categories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from pipeline.models import Api, Param, Tool
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceOutcome

ReadTool = Callable[..., Tool]
ReadSpec = Callable[..., SourceOutcome]

PETSTORE_30 = """
openapi: 3.0.3
info:
  title: Pet Store
  version: 1.2.0
  description: Adopt and manage pets.
servers:
  - url: "https://{region}.pets.example/{base}"
    variables:
      region: {default: eu, enum: [eu, us]}
      base: {default: v1}
security: [{apiKey: []}]
paths:
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, schema: {type: integer}}
      - {name: verbose, in: query, description: path-level, schema: {type: string}}
    get:
      operationId: getPet
      summary: Get a pet
      description: Returns one pet by its id.
      tags: [pets, reading]
      parameters:
        - name: verbose
          in: query
          required: true
          description: operation-level
          schema: {type: boolean, default: false}
        - {name: X-Trace, in: header, schema: {type: string}, example: abc-123}
        - {name: session, in: cookie, schema: {type: string}}
      responses:
        200:
          description: the pet
          content:
            application/xml:
              schema: {type: string}
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
              example: {id: 1, name: Rex, tags: [good]}
        '404': {description: no such pet}
    delete:
      summary: Remove a pet
      deprecated: true
      security: [{bearer: []}]
      responses:
        '204': {description: gone}
  /pets:
    post:
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string, example: Rex}
                kind: {type: string, enum: [cat, dog]}
                age: {type: integer, minimum: 0}
                id: {type: integer, readOnly: true}
      responses:
        '201':
          $ref: '#/components/responses/Created'
components:
  schemas:
    Pet:
      type: object
      required: [id]
      properties:
        id: {type: integer, format: int64}
        name: {type: string, nullable: true}
        tags: {type: array, items: {type: string}}
  responses:
    Created:
      description: created
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Pet'}
  securitySchemes:
    apiKey: {type: apiKey, in: header, name: X-API-Key}
    bearer: {type: http, scheme: Bearer}
    unused: {type: oauth2, flows: {}}
"""

NOTES_31: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Notes", "version": "3", "summary": "Keep short notes."},
    "servers": [{"url": "/api/v3"}],
    "paths": {
        "/notes": {
            "get": {
                "operationId": "listNotes",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": ["integer", "null"], "exclusiveMinimum": 0, "example": 10},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "examples": {"simple": {"value": "milk"}, "other": {"value": "eggs"}},
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "notes",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}},
                                "examples": {"one": {"value": [{"id": 1, "text": "hi"}]}},
                            }
                        },
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Note": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "text": {"type": ["string", "null"]}},
            }
        },
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
    },
}

SHOP_SWAGGER: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Shop", "version": "2.0.1", "description": "Orders and photos."},
    "host": "api.shop.example",
    "basePath": "/v2",
    "schemes": ["http", "https"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {
        "key": {"type": "apiKey", "in": "query", "name": "api_key"},
        "basic": {"type": "basic"},
        "oauth": {"type": "oauth2", "flow": "implicit", "authorizationUrl": "https://x", "scopes": {}},
    },
    "security": [{"key": []}],
    "paths": {
        "/orders": {
            "post": {
                "operationId": "placeOrder",
                "parameters": [
                    {
                        "name": "order",
                        "in": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Order"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "schema": {"$ref": "#/definitions/Order"},
                        "examples": {"application/json": {"id": 7, "item": "pen"}},
                    }
                },
            },
            "get": {
                "operationId": "listOrders",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "type": "string",
                        "enum": ["open", "closed"],
                        "default": "open",
                    },
                    {"name": "limit", "in": "query", "type": "integer", "x-example": 5},
                    {"name": "ids", "in": "query", "type": "array", "items": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Order"}},
                    }
                },
            },
        },
        "/orders/{id}/photo": {
            "post": {
                "operationId": "uploadPhoto",
                "consumes": ["multipart/form-data"],
                "security": [{"oauth": []}],
                "parameters": [
                    {"name": "id", "in": "path", "type": "integer"},
                    {"name": "file", "in": "formData", "type": "file", "required": True},
                    {"name": "caption", "in": "formData", "type": "string"},
                ],
                "responses": {"default": {"description": "ok"}},
            }
        },
    },
    "definitions": {
        "Order": {
            "type": "object",
            "required": ["item"],
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "item": {"type": "string"},
                "quantity": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
            },
        }
    },
}


def api_named(tool: Tool, name: str) -> Api:
    matches = [api for api in tool.api_list if api.name == name]
    assert len(matches) == 1, [api.name for api in tool.api_list]
    return matches[0]


def param_named(api: Api, name: str) -> Param:
    matches = [param for param in api.parameters if param.name == name]
    assert len(matches) == 1, [param.name for param in api.parameters]
    return matches[0]


def one_operation(operation: dict[str, Any], **document: Any) -> dict[str, Any]:
    """An OpenAPI 3.0 document with a single ``GET /thing`` operation."""
    operation.setdefault("responses", {"200": {"description": "ok"}})
    return {
        "openapi": "3.0.0",
        "info": {"title": "One", "version": "1"},
        "paths": {"/thing": {"get": operation}},
        **document,
    }


# -- the tool ---------------------------------------------------------------------------------


def test_openapi_30_yaml_tool_takes_name_description_and_version_from_info(read_tool: ReadTool) -> None:
    tool = read_tool(PETSTORE_30)

    assert tool.tool_name == tool.title == "Pet Store"
    assert tool.tool_description == "Adopt and manage pets."
    assert tool.version == "1.2.0"
    assert tool.source.format == "openapi-3.0"
    assert tool.source.kind == "file"
    assert len(tool.source.sha256) == 64


def test_openapi_31_json_is_read_and_info_summary_serves_as_description(read_tool: ReadTool) -> None:
    tool = read_tool(NOTES_31, "notes.json")

    assert tool.source.format == "openapi-3.1"
    assert tool.tool_name == "Notes"
    assert tool.tool_description == "Keep short notes."
    assert tool.version == "3"


def test_swagger_20_json_and_yaml_are_both_read(read_tool: ReadTool) -> None:
    from_json = read_tool(SHOP_SWAGGER, "shop.json")
    from_yaml = read_tool(yaml.safe_dump(SHOP_SWAGGER), "shop.yaml")

    assert from_json.source.format == from_yaml.source.format == "swagger-2.0"
    assert from_json.tool_name == "Shop" and from_json.version == "2.0.1"
    assert from_json.api_list == from_yaml.api_list


def test_swagger_yaml_with_int_response_codes_and_path_level_parameters(read_tool: ReadTool) -> None:
    spec = """
        swagger: '2.0'
        info: {title: Tiny, version: '1'}
        host: tiny.example
        schemes: [http]
        paths:
          /items/{id}:
            parameters: [{name: id, in: path, type: string}]
            get:
              produces: [application/xml]
              responses:
                200: {description: ok, schema: {type: object, properties: {id: {type: string}}}}
                404: {description: missing}
    """
    api = read_tool(spec).api_list[0]

    assert api.url == "http://tiny.example/items/{id}"
    assert [(p.name, p.location, p.required) for p in api.parameters] == [("id", "path", True)]
    assert api.template_response == {"id": "str"}
    assert api.response_content_types == ["application/xml"]


def test_unquoted_yaml_version_numbers_still_identify_the_spec(read_tool: ReadTool) -> None:
    # "openapi: 3.0" and "swagger: 2.0" load as floats, not strings.
    rest = "info: {title: F, version: 1}\npaths: {/a: {get: {responses: {200: {description: ok}}}}}\n"
    openapi = read_tool("openapi: 3.0\n" + rest)
    swagger = read_tool("swagger: 2.0\n" + rest)

    assert openapi.source.format == "openapi-3.0"
    assert openapi.version == "1"
    assert swagger.source.format == "swagger-2.0"


def test_missing_title_falls_back_to_the_file_stem(read_tool: ReadTool) -> None:
    tool = read_tool(one_operation({}, info={"version": "1"}), "weather-api.v2.json")

    assert tool.tool_name == "weather-api.v2"
    assert tool.tool_description == "weather-api.v2"


def test_missing_info_gives_the_file_stem_and_no_version(read_tool: ReadTool) -> None:
    document = one_operation({})
    del document["info"]
    tool = read_tool(document, "bare.json")

    assert tool.tool_name == "bare"
    assert tool.version == ""


# -- base URL ---------------------------------------------------------------------------------


def test_server_variables_are_replaced_by_their_defaults(read_tool: ReadTool) -> None:
    tool = read_tool(PETSTORE_30)

    assert tool.base_url == "https://eu.pets.example/v1"
    assert api_named(tool, "getPet").url == "https://eu.pets.example/v1/pets/{petId}"
    assert api_named(tool, "getPet").path == "/pets/{petId}"


def test_relative_server_url_of_a_fetched_spec_is_resolved_against_its_url(read_tool: ReadTool) -> None:
    tool = read_tool(
        NOTES_31, "notes.json", kind="url", location="https://specs.example.com/notes/openapi.json"
    )

    assert tool.base_url == "https://specs.example.com/api/v3"
    assert tool.api_list[0].url == "https://specs.example.com/api/v3/notes"
    assert tool.source.kind == "url"


@pytest.mark.parametrize(
    ("server", "base_url"),
    [
        ("http://[domain]:8080/v1", "http://[domain]:8080/v1"),  # a placeholder urlsplit refuses
        ("//[cdn/api", "//[cdn/api"),  # a network-path reference to a host that does not parse
    ],
)
def test_server_url_that_does_not_parse_is_kept_as_written_in_a_fetched_spec(
    read_tool: ReadTool, server: str, base_url: str
) -> None:
    spec = {**NOTES_31, "servers": [{"url": server}]}
    tool = read_tool(spec, "notes.json", kind="url", location="https://specs.example.com/notes/openapi.json")
    assert tool.base_url == base_url


def test_relative_server_url_of_a_local_file_stays_relative(read_tool: ReadTool) -> None:
    assert read_tool(NOTES_31, "notes.json").base_url == "/api/v3"


def test_fetched_spec_without_servers_uses_the_origin_of_its_url(read_tool: ReadTool) -> None:
    tool = read_tool(
        one_operation({}), "x.json", kind="url", location="https://api.example.org/docs/spec.json"
    )

    assert tool.base_url == "https://api.example.org"


def test_swagger_base_url_is_scheme_host_and_base_path_preferring_https(read_tool: ReadTool) -> None:
    tool = read_tool(SHOP_SWAGGER, "shop.json")

    assert tool.base_url == "https://api.shop.example/v2"
    assert api_named(tool, "listOrders").url == "https://api.shop.example/v2/orders"


def test_swagger_with_only_http_scheme_uses_http(read_tool: ReadTool) -> None:
    tool = read_tool({**SHOP_SWAGGER, "schemes": ["http"]}, "shop.json")

    assert tool.base_url == "http://api.shop.example/v2"


def test_swagger_without_host_uses_the_fetched_url_origin_or_just_the_base_path(read_tool: ReadTool) -> None:
    hostless = {k: v for k, v in SHOP_SWAGGER.items() if k != "host"}

    fetched = read_tool(
        hostless, "shop.json", kind="url", location="https://docs.shop.example/api/swagger.json"
    )
    local = read_tool(hostless, "shop.json")

    assert fetched.base_url == "https://docs.shop.example/v2"
    assert local.base_url == "/v2"


# -- operations and their names ----------------------------------------------------------------


def test_each_operation_becomes_one_api(read_tool: ReadTool) -> None:
    tool = read_tool(PETSTORE_30)

    assert sorted((api.method, api.path) for api in tool.api_list) == [
        ("DELETE", "/pets/{petId}"),
        ("GET", "/pets/{petId}"),
        ("POST", "/pets"),
    ]


@pytest.mark.parametrize(
    ("operation", "name"),
    [
        ({"operationId": "getThing", "summary": "Get the thing"}, "getThing"),
        ({"summary": "Get the thing"}, "Get the thing"),
        ({"summary": "x" * 81}, "GET /thing"),
        ({}, "GET /thing"),
    ],
    ids=["operationId", "summary", "long-summary", "nothing"],
)
def test_api_name_is_operation_id_else_short_summary_else_method_and_path(
    read_tool: ReadTool, operation: dict[str, Any], name: str
) -> None:
    assert read_tool(one_operation(operation), "x.json").api_list[0].name == name


@pytest.mark.parametrize(
    ("operation", "description"),
    [
        ({"summary": "Get a pet", "description": "Returns one pet."}, "Get a pet. Returns one pet."),
        ({"summary": "Get a pet.", "description": "Returns one pet."}, "Get a pet. Returns one pet."),
        ({"summary": "Get a pet"}, "Get a pet"),
        ({"description": "Returns one pet."}, "Returns one pet."),
        ({"summary": "Get a pet", "description": "Get a pet by id."}, "Get a pet by id."),
    ],
    ids=["both", "summary-with-period", "summary-only", "description-only", "description-repeats-summary"],
)
def test_api_description_joins_summary_and_description(
    read_tool: ReadTool, operation: dict[str, Any], description: str
) -> None:
    assert read_tool(one_operation(operation), "x.json").api_list[0].description == description


def test_deprecated_flag_and_tags_are_kept(read_tool: ReadTool) -> None:
    tool = read_tool(PETSTORE_30)

    assert api_named(tool, "Remove a pet").deprecated is True
    assert api_named(tool, "getPet").deprecated is False
    assert api_named(tool, "getPet").tags == ["pets", "reading"]


# -- parameters -------------------------------------------------------------------------------


def test_operation_parameters_override_path_level_ones_with_the_same_name(read_tool: ReadTool) -> None:
    api = api_named(read_tool(PETSTORE_30), "getPet")

    verbose = param_named(api, "verbose")
    assert verbose.description == "operation-level"
    assert verbose.required is True
    assert verbose.type == "BOOLEAN"
    assert verbose.default is False
    assert [p.name for p in api.parameters].count("verbose") == 1


def test_path_level_parameters_are_inherited_and_path_params_are_always_required(read_tool: ReadTool) -> None:
    tool = read_tool(PETSTORE_30)

    for name in ("getPet", "Remove a pet"):
        pet_id = param_named(api_named(tool, name), "petId")
        assert pet_id.location == "path"
        assert pet_id.required is True  # the spec forgot "required: true"
        assert pet_id.type == "NUMBER"
        assert pet_id.schema_ == {"type": "integer"}


def test_parameters_keep_their_locations_and_examples(read_tool: ReadTool) -> None:
    api = api_named(read_tool(PETSTORE_30), "getPet")

    trace = param_named(api, "X-Trace")
    assert (trace.location, trace.required, trace.example) == ("header", False, "abc-123")
    assert param_named(api, "session").location == "cookie"
    assert [p.name for p in api.required_parameters] == ["petId", "verbose"]
    assert {p.name for p in api.optional_parameters} == {"X-Trace", "session"}


@pytest.mark.parametrize(
    ("schema", "label"),
    [
        ({"type": "string"}, "STRING"),
        ({"type": "integer"}, "NUMBER"),
        ({"type": "number", "format": "float"}, "NUMBER"),
        ({"type": "boolean"}, "BOOLEAN"),
        ({"type": "array", "items": {"type": "string"}}, "ARRAY"),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "OBJECT"),
        ({"type": "string", "enum": ["a", "b"]}, "ENUM"),
        ({"enum": ["a", "b"]}, "ENUM"),
        ({"type": "string", "format": "date"}, "DATE (YYYY-MM-DD)"),
        ({"type": "integer", "enum": [1, 2]}, "NUMBER"),
        ({"type": "integer", "nullable": True}, "NUMBER"),
        ({}, "STRING"),
    ],
)
def test_parameter_types_get_toolbench_labels(
    read_tool: ReadTool, schema: dict[str, Any], label: str
) -> None:
    operation = {"parameters": [{"name": "p", "in": "query", "schema": schema}]}
    assert read_tool(one_operation(operation), "x.json").api_list[0].parameters[0].type == label


def test_enum_and_default_of_a_parameter_are_kept(read_tool: ReadTool) -> None:
    status = param_named(api_named(read_tool(SHOP_SWAGGER, "shop.json"), "listOrders"), "status")

    assert status.type == "ENUM"
    assert status.enum == ["open", "closed"]
    assert status.default == "open"
    assert status.schema_["enum"] == ["open", "closed"]


def test_parameter_without_default_has_toolbench_empty_default(read_tool: ReadTool) -> None:
    trace = param_named(api_named(read_tool(PETSTORE_30), "getPet"), "X-Trace")
    assert trace.default == ""


@pytest.mark.parametrize(
    ("parameter", "example"),
    [
        ({"example": "from-param", "schema": {"type": "string", "example": "from-schema"}}, "from-param"),
        (
            {"examples": {"a": {"value": "first"}, "b": {"value": "second"}}, "schema": {"type": "string"}},
            "first",
        ),
        ({"schema": {"type": "string", "example": "from-schema"}}, "from-schema"),
        ({"x-example": "from-x-example", "type": "string"}, "from-x-example"),
        ({"schema": {"type": "string"}}, None),
    ],
    ids=["param.example", "examples-map", "schema.example", "x-example", "none"],
)
def test_parameter_example_comes_from_the_first_place_that_has_one(
    read_tool: ReadTool, parameter: dict[str, Any], example: Any
) -> None:
    operation = {"parameters": [{"name": "p", "in": "query", **parameter}]}
    assert read_tool(one_operation(operation), "x.json").api_list[0].parameters[0].example == example


def test_openapi_31_type_lists_and_numeric_exclusive_bounds_are_kept(read_tool: ReadTool) -> None:
    api = read_tool(NOTES_31, "notes.json").api_list[0]

    limit = param_named(api, "limit")
    assert limit.type == "NUMBER"
    assert limit.schema_ == {"type": ["integer", "null"], "exclusiveMinimum": 0, "example": 10}
    assert limit.example == 10
    assert param_named(api, "q").example == "milk"


def test_swagger_parameters_take_schema_keywords_from_the_parameter_itself(read_tool: ReadTool) -> None:
    api = api_named(read_tool(SHOP_SWAGGER, "shop.json"), "listOrders")

    limit = param_named(api, "limit")
    assert (limit.type, limit.example) == ("NUMBER", 5)
    ids = param_named(api, "ids")
    assert ids.type == "ARRAY"
    assert ids.schema_["items"] == {"type": "integer"}


def test_parameter_with_an_unknown_location_is_skipped_and_the_operation_kept(read_spec: ReadSpec) -> None:
    operation = {
        "operationId": "kept",
        "parameters": [{"name": "q", "in": "querystring"}, {"name": "ok", "in": "query"}],
    }
    outcome = read_spec(one_operation(operation), "x.json")

    assert outcome.error is None, outcome.error
    api = outcome.tools[0]["api_list"][0]
    assert (api["name"], [p["name"] for p in api["optional_parameters"]]) == ("kept", ["ok"])
    assert outcome.warnings == ["parameter q: unknown location 'querystring', skipped"]


def test_parameters_that_are_not_objects_are_skipped(read_tool: ReadTool) -> None:
    operation = {"parameters": ["limit", 3, None, {"in": "query"}, {"name": "ok", "in": "query"}]}
    api = read_tool(one_operation(operation), "x.json").api_list[0]

    assert [p.name for p in api.parameters] == ["ok"]


# -- request bodies ---------------------------------------------------------------------------


def test_json_request_body_is_flattened_into_body_parameters(read_tool: ReadTool) -> None:
    api = api_named(read_tool(PETSTORE_30), "createPet")

    assert api.body_content_type == "application/json"
    assert api.body_schema is not None and set(api.body_schema["properties"]) == {"name", "kind", "age", "id"}
    by_name = {p.name: p for p in api.parameters}
    assert set(by_name) == {"name", "kind", "age"}  # readOnly "id" is not something a caller sends
    assert all(p.location == "body" for p in by_name.values())
    assert [p.name for p in api.required_parameters] == ["name"]
    assert by_name["name"].example == "Rex"
    assert (by_name["kind"].type, by_name["kind"].enum) == ("ENUM", ["cat", "dog"])
    assert by_name["age"].schema_ == {"type": "integer", "minimum": 0}


def test_fields_of_an_optional_body_are_all_optional(read_tool: ReadTool) -> None:
    body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
            }
        }
    }
    api = read_tool(one_operation({"requestBody": body}), "x.json").api_list[0]

    assert [(p.name, p.required) for p in api.parameters] == [("a", False)]


def test_request_body_without_properties_becomes_one_body_parameter(read_tool: ReadTool) -> None:
    body = {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    api = read_tool(one_operation({"requestBody": body}), "x.json").api_list[0]

    assert api.body_content_type == "application/octet-stream"
    assert [(p.name, p.location, p.required) for p in api.parameters] == [("body", "body", True)]


def test_request_body_media_example_gives_field_examples(read_tool: ReadTool) -> None:
    body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "example": {"city": "Oslo"},
            }
        }
    }
    api = read_tool(one_operation({"requestBody": body}), "x.json").api_list[0]

    assert api.parameters[0].example == "Oslo"
    assert api.body_schema is not None and api.body_schema["example"] == {"city": "Oslo"}


def test_json_body_is_preferred_over_other_media_types(read_tool: ReadTool) -> None:
    body = {
        "content": {
            "application/xml": {"schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
            "application/vnd.api+json": {
                "schema": {"type": "object", "properties": {"j": {"type": "string"}}}
            },
        }
    }
    api = read_tool(one_operation({"requestBody": body}), "x.json").api_list[0]

    assert api.body_content_type == "application/vnd.api+json"
    assert [p.name for p in api.parameters] == ["j"]


def test_body_field_named_like_a_query_parameter_is_renamed(read_tool: ReadTool) -> None:
    operation = {
        "parameters": [{"name": "id", "in": "query", "schema": {"type": "string"}}],
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}
            }
        },
    }
    api = read_tool(one_operation(operation), "x.json").api_list[0]

    assert [(p.name, p.location) for p in api.parameters] == [("id", "query"), ("body_id", "body")]


def test_swagger_body_parameter_is_flattened_with_required_from_its_schema(read_tool: ReadTool) -> None:
    api = api_named(read_tool(SHOP_SWAGGER, "shop.json"), "placeOrder")

    assert api.body_content_type == "application/json"
    assert api.body_schema is not None and api.body_schema["required"] == ["item"]
    assert [(p.name, p.location, p.required) for p in api.parameters] == [
        ("item", "body", True),
        ("quantity", "body", False),
    ]


def test_swagger_exclusive_minimum_true_becomes_a_numeric_bound(read_tool: ReadTool) -> None:
    api = api_named(read_tool(SHOP_SWAGGER, "shop.json"), "placeOrder")

    assert param_named(api, "quantity").schema_ == {"type": "integer", "exclusiveMinimum": 0}


def test_swagger_form_data_becomes_a_form_body(read_tool: ReadTool) -> None:
    api = api_named(read_tool(SHOP_SWAGGER, "shop.json"), "uploadPhoto")

    assert api.body_content_type == "multipart/form-data"
    assert api.body_schema == {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}, "caption": {"type": "string"}},
        "required": ["file"],
    }
    assert [(p.name, p.location, p.required) for p in api.parameters] == [
        ("id", "path", True),
        ("file", "formData", True),
        ("caption", "formData", False),
    ]


def test_swagger_form_data_takes_the_form_media_type_declared_for_the_document(read_tool: ReadTool) -> None:
    operation = {
        "parameters": [{"name": "f", "in": "formData", "type": "string"}],
        "responses": {"200": {"description": "ok"}},
    }
    document = {
        "swagger": "2.0",
        "info": {"title": "Forms", "version": "1"},
        "consumes": ["application/json", "multipart/form-data"],
        "paths": {"/a": {"post": operation}},
    }
    form_default = {**document, "consumes": ["application/json"]}

    assert read_tool(document, "forms.json").api_list[0].body_content_type == "multipart/form-data"
    assert (
        read_tool(form_default, "forms.json").api_list[0].body_content_type
        == "application/x-www-form-urlencoded"
    )


# -- responses --------------------------------------------------------------------------------


def test_response_schema_template_and_example_come_from_the_success_response(read_tool: ReadTool) -> None:
    api = api_named(read_tool(PETSTORE_30), "getPet")  # its 200 key is a YAML int

    assert api.response_schema == {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "name": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert api.template_response == {"id": "int", "name": "str", "tags": ["str"]}
    assert api.response_example == {"id": 1, "name": "Rex", "tags": ["good"]}
    assert api.response_content_types == ["application/xml", "application/json"]


def test_response_reached_through_components_responses(read_tool: ReadTool) -> None:
    api = api_named(read_tool(PETSTORE_30), "createPet")

    assert api.response_schema is not None and set(api.response_schema["properties"]) == {
        "id",
        "name",
        "tags",
    }
    assert api.response_content_types == ["application/json"]


def test_response_without_content_leaves_response_fields_empty(read_tool: ReadTool) -> None:
    api = api_named(read_tool(PETSTORE_30), "Remove a pet")

    assert (api.response_schema, api.template_response, api.response_example) == (None, None, None)
    assert api.response_content_types == []


def test_response_example_from_the_examples_map_of_a_media_type(read_tool: ReadTool) -> None:
    api = read_tool(NOTES_31, "notes.json").api_list[0]

    assert api.response_example == [{"id": 1, "text": "hi"}]
    assert api.template_response == [{"id": "int", "text": "str"}]


def test_default_response_is_used_when_there_is_no_2xx(read_tool: ReadTool) -> None:
    responses = {
        "400": {"description": "bad", "content": {"application/json": {"schema": {"type": "string"}}}},
        "default": {"description": "any", "content": {"application/json": {"schema": {"type": "integer"}}}},
    }
    api = read_tool(one_operation({"responses": responses}), "x.json").api_list[0]

    assert api.response_schema == {"type": "integer"}


def test_lowest_success_code_wins_and_codes_given_twice_do_not_break_the_read(read_tool: ReadTool) -> None:
    spec = """
        openapi: 3.0.0
        info: {title: Codes, version: '1'}
        paths:
          /a:
            get:
              responses:
                201: {description: b, content: {application/json: {schema: {type: integer}}}}
                200: {description: a, content: {application/json: {schema: {type: string}}}}
                '200': {description: same code, content: {application/json: {schema: {type: string}}}}
    """
    api = read_tool(spec).api_list[0]

    assert api.response_schema == {"type": "string"}


def test_swagger_response_schema_example_and_produces(read_tool: ReadTool) -> None:
    tool = read_tool(SHOP_SWAGGER, "shop.json")

    placed = api_named(tool, "placeOrder")
    assert placed.response_example == {"id": 7, "item": "pen"}
    assert placed.template_response == {"id": "int", "item": "str", "quantity": "int"}
    assert placed.response_content_types == ["application/json"]
    assert api_named(tool, "listOrders").template_response == [
        {"id": "int", "item": "str", "quantity": "int"}
    ]


# -- auth ---------------------------------------------------------------------------------------


def test_only_security_schemes_that_are_used_are_kept(read_tool: ReadTool) -> None:
    auth = {a.name: a for a in read_tool(PETSTORE_30).auth}

    assert set(auth) == {"apiKey", "bearer"}  # "unused" is declared but required nowhere
    assert (auth["apiKey"].kind, auth["apiKey"].location, auth["apiKey"].parameter) == (
        "apiKey",
        "header",
        "X-API-Key",
    )
    assert (auth["bearer"].kind, auth["bearer"].scheme) == ("http", "bearer")


def test_swagger_security_definitions_become_auth(read_tool: ReadTool) -> None:
    auth = {a.name: a for a in read_tool(SHOP_SWAGGER, "shop.json").auth}

    assert set(auth) == {"key", "oauth"}  # "basic" is defined but required nowhere
    assert (auth["key"].kind, auth["key"].location, auth["key"].parameter) == ("apiKey", "query", "api_key")
    assert (auth["oauth"].kind, auth["oauth"].scheme) == ("oauth2", "bearer")


def test_swagger_basic_auth_is_http_basic(read_tool: ReadTool) -> None:
    auth = read_tool({**SHOP_SWAGGER, "security": [{"basic": []}]}, "shop.json").auth

    assert {(a.name, a.kind, a.scheme) for a in auth} == {
        ("basic", "http", "basic"),
        ("oauth", "oauth2", "bearer"),
    }


def test_all_declared_schemes_are_kept_when_no_requirement_names_any(read_tool: ReadTool) -> None:
    auth = read_tool(NOTES_31, "notes.json").auth

    assert [(a.name, a.kind, a.scheme) for a in auth] == [("basic", "http", "basic")]


# -- category ---------------------------------------------------------------------------------

CATEGORISED = """
openapi: 3.0.0
info:
  title: Categorised
  version: '1'
  x-apisguru-categories: [developer_tools, cloud]
tags: [{name: Monitoring}]
paths:
  /a: {get: {tags: [ops], responses: {'200': {description: ok}}}}
"""


def _without(text: str, marker: str) -> str:
    return "\n".join(line for line in text.splitlines() if marker not in line)


def test_category_comes_first_from_apisguru_categories_shown_in_title_case(read_tool: ReadTool) -> None:
    tool = read_tool(CATEGORISED, folder_category="Folder")

    assert (tool.category, tool.category_origin) == ("Developer Tools", "x-apisguru-categories")


def test_category_falls_back_to_tags_then_folder_then_uncategorized(read_tool: ReadTool) -> None:
    no_apisguru = _without(CATEGORISED, "x-apisguru")
    no_document_tags = _without(no_apisguru, "Monitoring")
    no_tags = no_document_tags.replace("tags: [ops], ", "")

    by_document_tags = read_tool(no_apisguru, folder_category="Folder")
    assert (by_document_tags.category, by_document_tags.category_origin) == ("Monitoring", "tags")
    by_api_tags = read_tool(no_document_tags, folder_category="Folder")
    assert (by_api_tags.category, by_api_tags.category_origin) == ("Ops", "tags")
    by_folder = read_tool(no_tags, folder_category="Finance")
    assert (by_folder.category, by_folder.category_origin) == ("Finance", "folder")
    nothing = read_tool(no_tags)
    assert (nothing.category, nothing.category_origin) == ("Uncategorized", "default")


def test_index_categories_stand_in_for_apisguru_categories(read_tool: ReadTool) -> None:
    tool = read_tool(_without(CATEGORISED, "x-apisguru"), index_categories=["open_data"])

    assert (tool.category, tool.category_origin) == ("Open Data", "index")


def test_a_different_category_precedence_is_honoured(read_tool: ReadTool) -> None:
    folder_first = ReadOptions(category_precedence=("folder", "tags", "x-apisguru-categories"))
    tags_first = ReadOptions(category_precedence=("tags", "x-apisguru-categories"))

    by_folder = read_tool(CATEGORISED, folder_category="Finance", options=folder_first)
    by_tags = read_tool(CATEGORISED, folder_category="Finance", options=tags_first)
    apisguru_only = read_tool(
        _without(CATEGORISED, "x-apisguru"),
        options=ReadOptions(category_precedence=("x-apisguru-categories",)),
    )

    assert (by_folder.category, by_folder.category_origin) == ("Finance", "folder")
    assert (by_tags.category, by_tags.category_origin) == ("Monitoring", "tags")
    assert (apisguru_only.category, apisguru_only.category_origin) == ("Uncategorized", "default")


@pytest.mark.parametrize(
    ("declared", "shown"),
    [
        ("developer_tools", "Developer Tools"),
        ("open-data", "Open Data"),
        ("ecommerce", "Ecommerce"),
        ("Machine Learning", "Machine Learning"),
        ("IoT", "IoT"),
    ],
)
def test_lowercase_apisguru_categories_are_shown_as_words(
    read_tool: ReadTool, declared: str, shown: str
) -> None:
    spec = CATEGORISED.replace("[developer_tools, cloud]", f"['{declared}']")
    assert read_tool(spec).category == shown
