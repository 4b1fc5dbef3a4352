"""``$ref`` resolution: local pointers, component refs, files in the spec's folder, and the refs
that must be refused (outside the folder, remote, cycles, over-long chains) without a crash."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Tool
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceOutcome
from pipeline.specs.refs import RefError, RefResolver

ReadTool = Callable[..., Tool]
ReadSpec = Callable[..., SourceOutcome]


def spec_with(schema: dict[str, Any], **components: Any) -> dict[str, Any]:
    """A spec whose one operation returns ``schema``; ``components`` go under components/schemas."""
    return {
        "openapi": "3.0.0",
        "info": {"title": "Refs", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": {"schema": schema}}}
                    }
                }
            }
        },
        "components": {"schemas": components},
    }


def response_schema(outcome: SourceOutcome) -> Any:
    assert outcome.error is None, outcome.error
    return outcome.tools[0]["api_list"][0].get("response_schema")


# -- RefResolver directly ----------------------------------------------------------------------


def test_json_pointer_escapes_are_decoded() -> None:
    root = {"defs": {"a/b": 1, "t~x": 2, "with space": 3, "~1": 4}}
    resolver = RefResolver(root, path=None)

    def target(ref: str) -> Any:
        return resolver.deref({"$ref": ref}, resolver.main)[0]

    assert target("#/defs/a~1b") == 1
    assert target("#/defs/t~0x") == 2
    assert target("#/defs/with%20space") == 3
    assert target("#/defs/~01") == 4  # "~01" is "~1" literally, not "/"


def test_pointer_reaches_yaml_int_keys_and_list_items() -> None:
    root = {"responses": {200: {"description": "ok"}}, "list": ["zero", {"x": "one"}]}
    resolver = RefResolver(root, path=None)

    assert resolver.deref({"$ref": "#/responses/200"}, resolver.main)[0] == {"description": "ok"}
    assert resolver.deref({"$ref": "#/list/1/x"}, resolver.main)[0] == "one"


def test_deref_returns_the_last_name_of_the_chain() -> None:
    root = {"s": {"Alias": {"$ref": "#/s/Pet"}, "Pet": {"type": "object"}}}
    resolver = RefResolver(root, path=None)

    node, _, name = resolver.deref({"$ref": "#/s/Alias"}, resolver.main)

    assert (node, name) == ({"type": "object"}, "Pet")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("#/s/Missing", "'Missing' not found"),
        ("#/list/5", "index '5' out of range"),
        ("#/s/Pet/type/deeper", "cannot descend into a str"),
        ("#s/Pet", "not a JSON pointer"),
        ("https://example.com/x.yaml#/Pet", "remote $ref"),
        ("other.yaml#/Pet", "fetched spec"),
        ("#/s/Self", "cycle"),
        ("#/s/Ping", "cycle"),
    ],
)
def test_refs_that_cannot_be_followed_raise_a_ref_error(ref: str, message: str) -> None:
    root = {
        "s": {
            "Pet": {"type": "object"},
            "Self": {"$ref": "#/s/Self"},
            "Ping": {"$ref": "#/s/Pong"},
            "Pong": {"$ref": "#/s/Ping"},
        },
        "list": [1],
    }
    resolver = RefResolver(root, path=None)

    with pytest.raises(RefError) as caught:
        resolver.deref({"$ref": ref}, resolver.main)
    assert message in str(caught.value)


def test_ref_that_is_not_a_string_is_an_error() -> None:
    resolver = RefResolver({}, path=None)
    with pytest.raises(RefError, match="not a string"):
        resolver.deref({"$ref": ["#/a"]}, resolver.main)


def test_chain_of_exactly_max_hops_refs_is_followed_and_a_longer_one_is_an_error() -> None:
    root = {f"s{i}": {"$ref": f"#/s{i + 1}"} for i in range(10)} | {"s10": {"type": "string"}}
    eleven_refs = {"$ref": "#/s0"}  # this ref, then s0 ... s9

    exact = RefResolver(root, path=None, max_hops=11)
    assert exact.deref(eleven_refs, exact.main)[0] == {"type": "string"}
    short = RefResolver(root, path=None, max_hops=10)
    with pytest.raises(RefError, match="longer than 10 hops"):
        short.deref(eleven_refs, short.main)


def test_a_single_ref_is_followed_with_max_hops_of_one() -> None:
    resolver = RefResolver({"Pet": {"type": "object"}}, path=None, max_hops=1)

    assert resolver.deref({"$ref": "#/Pet"}, resolver.main)[0] == {"type": "object"}


# -- refs to components through the reader ---------------------------------------------------


def test_refs_to_component_parameters_request_bodies_and_responses_are_followed(read_tool: ReadTool) -> None:
    spec = """
        openapi: 3.0.0
        info: {title: Components, version: '1'}
        paths:
          /items/{id}:
            parameters: [{$ref: '#/components/parameters/Id'}]
            put:
              operationId: putItem
              parameters: [{$ref: '#/components/parameters/Limit'}]
              requestBody: {$ref: '#/components/requestBodies/Item'}
              responses:
                '200': {$ref: '#/components/responses/Item'}
        components:
          parameters:
            Id: {name: id, in: path, schema: {type: string}}
            Limit: {name: limit, in: query, schema: {$ref: '#/components/schemas/Limit'}}
          requestBodies:
            Item:
              required: true
              content: {application/json: {schema: {$ref: '#/components/schemas/Item'}}}
          responses:
            Item:
              description: ok
              content: {application/json: {schema: {$ref: '#/components/schemas/Item'}}}
          schemas:
            Limit: {type: integer, maximum: 100}
            Item: {type: object, required: [label], properties: {label: {type: string}}}
    """
    api = read_tool(spec).api_list[0]

    assert [(p.name, p.location, p.required) for p in api.parameters] == [
        ("id", "path", True),
        ("label", "body", True),
        ("limit", "query", False),
    ]
    assert api.parameters[2].schema_ == {"type": "integer", "maximum": 100}
    assert api.response_schema == {
        "type": "object",
        "required": ["label"],
        "properties": {"label": {"type": "string"}},
    }


def test_path_item_ref_is_followed(read_tool: ReadTool) -> None:
    spec = """
        openapi: 3.1.0
        info: {title: Path items, version: '1'}
        paths:
          /shared: {$ref: '#/components/pathItems/Shared'}
        components:
          pathItems:
            Shared:
              get: {operationId: getShared, responses: {'200': {description: ok}}}
              post: {operationId: postShared, responses: {'200': {description: ok}}}
    """
    tool = read_tool(spec)

    assert sorted((a.name, a.method, a.path) for a in tool.api_list) == [
        ("getShared", "GET", "/shared"),
        ("postShared", "POST", "/shared"),
    ]


def test_broken_path_item_ref_costs_that_path_only(read_spec: ReadSpec) -> None:
    spec = """
        openapi: 3.0.0
        info: {title: Broken path item, version: '1'}
        paths:
          /gone: {$ref: '#/components/pathItems/Missing'}
          /here: {get: {operationId: here, responses: {'200': {description: ok}}}}
    """
    outcome = read_spec(spec)

    assert [a["name"] for a in outcome.tools[0]["api_list"]] == ["here"]
    assert any("/gone" in w and "Missing" in w for w in outcome.warnings)


# -- refs to other files -----------------------------------------------------------------------


def test_relative_file_refs_in_the_same_folder_and_a_subfolder_are_followed(
    read_spec: ReadSpec, tmp_path: Path
) -> None:
    (tmp_path / "pets.yaml").write_text(
        "Pet:\n  type: object\n  properties:\n"
        "    id: {$ref: 'common.yaml#/Id'}\n    owner: {$ref: 'people/owner.yaml#/Owner'}\n"
    )
    (tmp_path / "common.yaml").write_text("Id: {type: integer, format: int64}\nName: {type: string}\n")
    (tmp_path / "people").mkdir()
    # refs inside a referenced file are relative to that file, so ../ climbs back to the spec's folder
    (tmp_path / "people" / "owner.yaml").write_text(
        "Owner:\n  type: object\n  properties:\n"
        "    name: {$ref: '../common.yaml#/Name'}\n    pet: {$ref: '../pets.yaml#/Pet'}\n"
    )
    outcome = read_spec(spec_with({"$ref": "pets.yaml#/Pet"}))

    assert response_schema(outcome) == {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "owner": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "pet": {"description": "(recursive: Pet)", "type": "object"},
                },
            },
        },
    }
    assert outcome.warnings == []


def test_file_ref_without_a_fragment_takes_the_whole_file(read_spec: ReadSpec, tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "tag.json").write_text('{"type": "string", "maxLength": 20}')

    assert response_schema(read_spec(spec_with({"$ref": "schemas/tag.json"}))) == {
        "type": "string",
        "maxLength": 20,
    }


def test_ref_back_into_the_main_spec_file_uses_the_main_document(read_spec: ReadSpec, tmp_path: Path) -> None:
    (tmp_path / "wrapper.yaml").write_text(
        "Wrapper: {type: array, items: {$ref: 'spec.yaml#/components/schemas/Item'}}\n"
    )
    outcome = read_spec(spec_with({"$ref": "wrapper.yaml#/Wrapper"}, Item={"type": "boolean"}))

    assert response_schema(outcome) == {"type": "array", "items": {"type": "boolean"}}


@pytest.mark.parametrize(
    ("ref", "warning"),
    [
        ("../outside.yaml#/Secret", "points outside the spec's folder"),
        ("/etc/hostname", "points outside the spec's folder"),
        ("missing.yaml#/Pet", "file missing.yaml does not exist"),
        ("common.yaml#/Nope", "'Nope' not found"),
        ("broken.yaml#/Pet", "cannot read broken.yaml"),
        ("https://example.com/pet.yaml#/Pet", "remote $ref"),
        ("pet%00.yaml#/Pet", "not a usable file name"),
        ("p" * 300 + ".yaml#/Pet", "File name too long"),
    ],
    ids=[
        "escapes-folder",
        "absolute-path",
        "missing-file",
        "missing-pointer",
        "unparsable-file",
        "remote",
        "nul-byte",
        "name-too-long",
    ],
)
def test_refs_that_cannot_be_followed_leave_an_empty_schema_and_a_warning(
    read_spec: ReadSpec, tmp_path: Path, ref: str, warning: str
) -> None:
    (tmp_path / "outside.yaml").write_text("Secret: {type: string, description: must not be read}\n")
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "common.yaml").write_text("Id: {type: integer}\n")
    (folder / "broken.yaml").write_text("Pet: [unclosed\n")
    schema = {"type": "object", "properties": {"bad": {"$ref": ref}, "fine": {"type": "string"}}}

    outcome = read_spec(spec_with(schema), "spec/spec.yaml")

    assert response_schema(outcome) == {
        "type": "object",
        "properties": {"bad": {}, "fine": {"type": "string"}},
    }
    assert any(warning in w for w in outcome.warnings), outcome.warnings


def test_referenced_file_over_the_size_cap_is_not_read(read_spec: ReadSpec, tmp_path: Path) -> None:
    (tmp_path / "huge.yaml").write_text("Pet: {type: object}\n" + "#" * 5000 + "\n")

    outcome = read_spec(spec_with({"$ref": "huge.yaml#/Pet"}), options=ReadOptions(max_file_bytes=2000))

    assert response_schema(outcome) == {}
    assert any("cannot read huge.yaml" in w and "over the cap" in w for w in outcome.warnings)


def test_file_refs_in_a_fetched_spec_are_not_followed(read_spec: ReadSpec, tmp_path: Path) -> None:
    (tmp_path / "pets.yaml").write_text("Pet: {type: object}\n")
    outcome = read_spec(
        spec_with({"$ref": "pets.yaml#/Pet"}), kind="url", location="https://example.com/spec.json"
    )

    assert response_schema(outcome) == {}
    assert any("fetched spec cannot be followed" in w for w in outcome.warnings)


@pytest.mark.parametrize(
    "ref",
    [".secrets.yaml#/Token", "./.secrets.yaml#/Token", ".hidden/common.yaml#/Token", "public.yaml#/Token"],
    ids=["dotfile", "dotfile-dot-slash", "hidden-folder", "symlink-to-dotfile"],
)
def test_refs_to_hidden_files_beside_the_spec_are_refused_and_recorded(
    read_spec: ReadSpec, tmp_path: Path, ref: str
) -> None:
    # discovery skips hidden files; a $ref must not reach what discovery would not
    (tmp_path / ".secrets.yaml").write_text("Token: {type: string, description: sk-live-123}\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "common.yaml").write_text("Token: {type: string, description: sk-live-123}\n")
    (tmp_path / "public.yaml").symlink_to(tmp_path / ".secrets.yaml")

    outcome = read_spec(spec_with({"$ref": ref}))

    assert response_schema(outcome) == {}
    assert outcome.refused_refs == [f"$ref {ref!r} points to a hidden file or folder"]


def test_each_refused_ref_is_recorded_once_per_source(read_spec: ReadSpec, tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("Pet: {type: object}\n")
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "https://example.com/pet.yaml#/Pet"},
            "b": {"$ref": "https://example.com/pet.yaml#/Pet"},
            "c": {"$ref": "../outside.yaml#/Pet"},
            "d": {"$ref": "missing.yaml#/Pet"},  # broken, not refused: a warning only
        },
    }
    outcome = read_spec(spec_with(schema), "spec/spec.yaml")

    assert outcome.refused_refs == [
        "remote $ref 'https://example.com/pet.yaml#/Pet' is not followed",
        "$ref '../outside.yaml#/Pet' points outside the spec's folder",
    ]
    assert any("missing.yaml" in w for w in outcome.warnings)


def test_refused_refs_are_kept_when_the_source_fails(read_spec: ReadSpec) -> None:
    spec = spec_with({"type": "string"})
    spec["paths"] = {"/a": {"$ref": "https://example.com/paths.yaml#/a"}}

    outcome = read_spec(spec)

    assert outcome.error is not None and outcome.error.reason.startswith("no operations found")
    assert outcome.refused_refs == ["remote $ref 'https://example.com/paths.yaml#/a' is not followed"]


def test_a_ref_to_a_named_pipe_is_not_read(read_spec: ReadSpec, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    outcome = read_spec(spec_with({"$ref": "pipe.yaml#/Pet"}))
    assert response_schema(outcome) == {}
    assert any("cannot read pipe.yaml: not a regular file (a named pipe)" in w for w in outcome.warnings)


def test_parameter_ref_to_a_missing_file_drops_the_parameter_with_a_warning(read_spec: ReadSpec) -> None:
    spec = spec_with({"type": "string"})
    spec["paths"]["/a"]["get"]["parameters"] = [
        {"$ref": "params.yaml#/Limit"},
        {"name": "q", "in": "query", "schema": {"type": "string"}},
    ]
    outcome = read_spec(spec)

    assert outcome.error is None
    assert [p["name"] for p in outcome.tools[0]["api_list"][0]["optional_parameters"]] == ["q"]
    assert any("params.yaml" in w for w in outcome.warnings)


# -- cycles and chains through the reader -----------------------------------------------------


def test_self_recursive_schema_keeps_a_recursion_marker(read_spec: ReadSpec) -> None:
    node = {
        "type": "object",
        "properties": {
            "value": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
    }
    outcome = read_spec(spec_with({"$ref": "#/components/schemas/Node"}, Node=node))

    assert response_schema(outcome) == {
        "type": "object",
        "properties": {
            "value": {"type": "string"},
            "children": {"type": "array", "items": {"description": "(recursive: Node)", "type": "object"}},
        },
    }
    assert outcome.tools[0]["api_list"][0]["template_response"] == {"value": "str", "children": [{}]}


def test_mutually_recursive_schemas_stop_where_the_cycle_closes(read_spec: ReadSpec) -> None:
    a = {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}}
    b = {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}, "n": {"type": "integer"}}}
    outcome = read_spec(spec_with({"$ref": "#/components/schemas/A"}, A=a, B=b))

    assert response_schema(outcome) == {
        "type": "object",
        "properties": {
            "b": {
                "type": "object",
                "properties": {
                    "a": {"description": "(recursive: A)", "type": "object"},
                    "n": {"type": "integer"},
                },
            }
        },
    }


@pytest.mark.timeout(10)
def test_ref_chain_that_loops_without_a_schema_is_a_warning_not_a_hang(read_spec: ReadSpec) -> None:
    outcome = read_spec(
        spec_with(
            {
                "type": "object",
                "properties": {
                    "self": {"$ref": "#/components/schemas/Self"},
                    "ping": {"$ref": "#/components/schemas/Ping"},
                },
            },
            Self={"$ref": "#/components/schemas/Self"},
            Ping={"$ref": "#/components/schemas/Pong"},
            Pong={"$ref": "#/components/schemas/Ping"},
        )
    )

    assert response_schema(outcome) == {"type": "object", "properties": {"self": {}, "ping": {}}}
    assert sum("cycle" in w for w in outcome.warnings) == 2


def test_ref_chain_longer_than_max_ref_hops_is_cut_with_a_warning(read_spec: ReadSpec) -> None:
    chain = {f"S{i}": {"$ref": f"#/components/schemas/S{i + 1}"} for i in range(6)} | {
        "S6": {"type": "string"}
    }
    spec = spec_with({"$ref": "#/components/schemas/S0"}, **chain)

    assert response_schema(read_spec(spec, options=ReadOptions(max_ref_hops=10))) == {"type": "string"}
    short = read_spec(spec, options=ReadOptions(max_ref_hops=3))
    assert response_schema(short) == {}
    assert any("longer than 3 hops" in w for w in short.warnings)
