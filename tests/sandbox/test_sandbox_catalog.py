"""The bundled sandbox specs: enough tools, categories and operations, each documented the way
the pipeline (spec reader, instruction writer, offline agent) relies on."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.env.sandbox import load_tool_specs, sandbox_spec_dir
from pipeline.env.sandbox.examples import example_value
from pipeline.env.sandbox.schemas import SchemaSet
from pipeline.env.sandbox.tools import TOOLS

SPECS = load_tool_specs()
OPERATIONS = [(spec, op) for spec in SPECS for op in spec.operations]
ERROR_REF = "#/components/schemas/Error"


def test_spec_dir_is_the_repository_api_specs_sandbox_folder() -> None:
    folder = sandbox_spec_dir()
    assert folder.parts[-2:] == ("api_specs", "sandbox")
    assert (folder.parent.parent / "pipeline" / "env" / "sandbox").is_dir()


def test_catalogue_is_large_enough_for_multi_tool_tasks() -> None:
    categories = {category for spec in SPECS for category in spec.categories}
    assert len(SPECS) >= 14
    assert len(categories) >= 6
    assert len(OPERATIONS) >= 60


def test_every_spec_has_an_implementation_and_vice_versa() -> None:
    assert {spec.slug for spec in SPECS} == set(TOOLS)


def test_operation_ids_are_unique_across_the_sandbox() -> None:
    counts = Counter(op.operation_id for _, op in OPERATIONS)
    assert [name for name, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.slug)
def test_tool_info_and_server_follow_the_conventions(spec) -> None:
    info = spec.document["info"]
    assert spec.document["openapi"].startswith("3.0")
    assert info["title"] and info["version"]
    assert len(info["description"].split()) >= 10, "description should be a real sentence or two"
    assert info["x-apisguru-categories"]
    assert spec.document["servers"] == [{"url": f"http://127.0.0.1:8750/{spec.slug}"}]
    assert spec.document["components"]["schemas"]["Error"]["required"] == ["error", "message"]


@pytest.mark.parametrize(
    ("spec", "op"), OPERATIONS, ids=lambda v: getattr(v, "operation_id", getattr(v, "slug", ""))
)
def test_operation_is_documented_with_typed_examples_and_error_responses(spec, op) -> None:
    raw = spec.document["paths"][op.path][op.method.lower()]
    assert raw["summary"] and len(raw["description"].split()) >= 5
    schemas = SchemaSet(spec.document)
    for parameter in op.parameters:
        schema = schemas.resolve(parameter["schema"])
        assert schema.get("type"), f"{parameter['name']} has no type"
        assert parameter.get("description"), f"{parameter['name']} has no description"
        assert "example" in parameter, f"{parameter['name']} has no example"
        assert not list(schemas.validator(parameter["schema"]).iter_errors(example_value(parameter))), (
            parameter["name"]
        )
    if op.request_body is not None:
        media = op.request_body["content"]["application/json"]
        assert "example" in media
        assert not list(schemas.validator(media["schema"]).iter_errors(media["example"]))
    statuses = set(op.responses)
    assert statuses & {"200", "201"}
    assert "429" in statuses
    if op.parameters or op.request_body:
        assert "400" in statuses
    if any(p["in"] == "path" for p in op.parameters):
        assert "404" in statuses
    if op.security:
        assert "401" in statuses
    for status, response in op.responses.items():
        if status.startswith("4"):
            assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, status


def test_two_tools_require_an_api_key_one_in_a_header_and_one_in_the_query() -> None:
    secured = {
        spec.slug: {s.location for alt in spec.operations[0].security for s in alt}
        for spec in SPECS
        if spec.operations[0].security
    }
    assert sorted(secured.values(), key=sorted) == [{"header"}, {"query"}]
