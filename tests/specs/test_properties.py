"""Property tests: any document at all, through one source's whole path, is a tool or a recorded error.

Documents are drawn as OpenAPI / Swagger / ToolBench skeletons whose every field may instead
hold something odd (a server URL ``urlsplit`` refuses, a number where text belongs, a list
where a mapping belongs, NaN, integers past 64 bits, deep nesting within the parser's limits),
written as JSON or YAML and also mutated byte by byte. Each goes through
:func:`~pipeline.specs.prepare.prepare_source` (read, parse, normalise, ids, filters, duplicate
keys, graph summary: what a reader process does with a source; and read_source, the reader
alone) and the outcome must be either
a catalog line that loads back as a :class:`~pipeline.models.Tool`, or an error recorded
against the source. An error that is a reader bug (an exception nobody meant, which the
boundary reports with where it was raised) fails the property too: the boundary keeps the run
alive, these tests keep the readers honest.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.models import Tool
from pipeline.settings import FilterSettings
from pipeline.specs.filters import DuplicateOperations
from pipeline.specs.ids import IdRegistry
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.prepare import PreparedSource, prepare_source
from pipeline.specs.read import SourceTask, read_source

EXAMPLES = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OPTIONS = ReadOptions(max_file_bytes=2 * 1024 * 1024)
RULES = FilterSettings()

# -- values -----------------------------------------------------------------------------------

ODD_URLS = [
    "http://[domain]:8080",
    "http://[::1]:8080/v1",
    "https://api.example.com:99999/x",
    "https://api.example.com:port/",
    "//cdn.example.com/api",
    "api.example.com/v1",
    "{scheme}://{host}/{basePath}",
    "http://[",
    "https://user:pa ss@host/",
    "",
    " ",
    "/",
    "file:///etc/passwd",
    "http://例え.jp/パス",
    "http://h/%zz/{id}",
]
ODD_TEXT = [
    *ODD_URLS,
    "#/components/schemas/Pet",
    "#/definitions/Missing",
    "../outside.yaml#/x",
    ".hidden.yaml#/x",
    "https://example.com/remote.yaml#/x",
    "#",
    "#/",
    "~1~0",
    "$ref",
    "2021-02-30",
    "NaN",
    "-" * 3,
    "\x00",
    "\u202e",
    "a" * 300,
]
HUGE = [2**63, 2**64 + 1, -(2**70), 10**40]

huge_ints = st.sampled_from(HUGE)


def _parses(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(ODD_TEXT),
)
keys = st.one_of(
    st.sampled_from(
        ["type", "properties", "items", "$ref", "allOf", "oneOf", "anyOf", "enum", "default", "example",
         "description", "name", "in", "required", "schema", "content", "nullable", "format", "200", "default"]
    ),
    st.text(max_size=8),
    st.integers(min_value=-5, max_value=600),
    st.none(),
    st.booleans(),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``, sometimes anything at all."""
    return st.one_of(good, good, good, junk)


@st.composite
def nested_schema(draw: st.DrawFn) -> Any:
    """A schema nested up to a few hundred levels, through properties, items or allOf."""
    depth = draw(st.integers(min_value=1, max_value=300))
    schema: Any = {"type": draw(st.sampled_from(["string", "integer", ["string", "null"], "file", 7]))}
    for _ in range(depth):
        how = draw(st.sampled_from(["properties", "items", "allOf", "additionalProperties"]))
        if how == "properties":
            schema = {"type": "object", "properties": {"p": schema}}
        elif how == "items":
            schema = {"type": "array", "items": schema}
        elif how == "allOf":
            schema = {"allOf": [schema]}
        else:
            schema = {"type": "object", "additionalProperties": schema}
    return schema


schemas = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": maybe(st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])),
            "properties": maybe(st.dictionaries(st.text(max_size=6), junk, max_size=3)),
            "items": junk,
            "required": maybe(st.lists(st.text(max_size=6), max_size=3)),
            "enum": maybe(st.lists(scalars, max_size=4)),
            "$ref": maybe(st.sampled_from(ODD_TEXT)),
            "default": scalars,
            "example": junk,
            "nullable": maybe(st.booleans()),
        },
    ),
    nested_schema(),
    junk,
)
parameter = st.fixed_dictionaries(
    {"name": maybe(st.text(max_size=10)), "in": maybe(st.sampled_from(["query", "path", "header", "cookie", "body", "formData", "nowhere"]))},
    optional={
        "required": maybe(st.booleans()),
        "schema": schemas,
        "type": maybe(st.sampled_from(["string", "integer", "array", "file"])),
        "description": maybe(st.text(max_size=30)),
        "example": junk,
        "$ref": st.sampled_from(ODD_TEXT),
    },
)
hashable = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none())  # YAML keys can be any of these
media = st.dictionaries(
    st.one_of(st.sampled_from(["application/json", "text/plain", "*/*", "application/xml", "multipart/form-data"]), hashable),
    maybe(st.fixed_dictionaries({}, optional={"schema": schemas, "example": junk, "examples": junk})),
    max_size=2,
)
response = st.fixed_dictionaries(
    {},
    optional={"description": maybe(st.text(max_size=20)), "content": maybe(media), "schema": schemas,
              "examples": junk, "$ref": st.sampled_from(ODD_TEXT)},
)
operation = st.fixed_dictionaries(
    {},
    optional={
        "operationId": maybe(st.text(max_size=20)),
        "summary": maybe(st.text(max_size=40)),
        "description": maybe(st.text(max_size=60)),
        "parameters": maybe(st.lists(maybe(parameter), max_size=4)),
        "requestBody": maybe(st.fixed_dictionaries({}, optional={"content": maybe(media), "required": junk})),
        "responses": maybe(st.dictionaries(st.one_of(st.sampled_from(["200", "201", "default", "404"]), st.integers(100, 599)), maybe(response), max_size=3)),
        "tags": maybe(st.lists(scalars, max_size=3)),
        "deprecated": maybe(st.booleans()),
        "security": junk,
        "consumes": junk,
        "produces": junk,
    },
)
path_item = st.one_of(
    st.dictionaries(
        st.sampled_from(["get", "put", "post", "delete", "patch", "head", "options", "trace", "parameters", "$ref"]),
        maybe(operation),
        max_size=3,
    ),
    junk,
)
paths = maybe(st.dictionaries(st.one_of(st.sampled_from(["/a", "/a/{id}", "/b/:id", "", "x", "/c?q=1"]), st.text(max_size=10)), path_item, max_size=4))
server = st.fixed_dictionaries(
    {"url": maybe(st.sampled_from(ODD_URLS))},
    optional={"variables": maybe(st.dictionaries(st.text(max_size=6), st.fixed_dictionaries({"default": junk}), max_size=2))},
)
info = st.fixed_dictionaries(
    {},
    optional={
        "title": maybe(st.text(max_size=30)),
        "description": maybe(st.text(max_size=60)),
        "version": maybe(st.text(max_size=8)),
        "x-apisguru-categories": maybe(st.lists(scalars, max_size=2)),
    },
)
openapi_documents = st.fixed_dictionaries(
    {"openapi": st.sampled_from(["3.0.0", "3.1.0", 3.0, "3.0", "3.99"]), "paths": paths},
    optional={
        "info": maybe(info),
        "servers": maybe(st.lists(maybe(server), max_size=2)),
        "components": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "schemas": maybe(st.dictionaries(st.sampled_from(["Pet", "Missing", "a/b", "~"]), schemas, max_size=3)),
                    "parameters": maybe(st.dictionaries(st.text(max_size=6), parameter, max_size=2)),
                    "responses": maybe(st.dictionaries(st.text(max_size=6), response, max_size=2)),
                    "securitySchemes": junk,
                },
            )
        ),
        "tags": junk,
        "security": junk,
    },
)
swagger_documents = st.fixed_dictionaries(
    {"swagger": st.sampled_from(["2.0", 2.0, 2, "2"]), "paths": paths},
    optional={
        "info": maybe(info),
        "host": maybe(st.sampled_from(ODD_URLS)),
        "basePath": maybe(st.sampled_from(["/v1", "", "v2", "/{x}"])),
        "schemes": maybe(st.lists(st.sampled_from(["http", "https", "ws", ""]), max_size=2)),
        "definitions": maybe(st.dictionaries(st.sampled_from(["Pet", "Missing"]), schemas, max_size=2)),
        "securityDefinitions": junk,
        "consumes": junk,
        "produces": junk,
    },
)
# KNOWN_TOOLBENCH_BUGS: read_toolbench loses the whole tool over an API URL urlsplit refuses or an
# ``auth`` that is not a list of auth objects (strict xfail tests in test_toolbench_reader.py).
# Its documents avoid those shapes here until pipeline/toolbench/documents.py is fixed.
PARSEABLE_URLS = [url for url in ODD_URLS if _parses(url)]
toolbench_api = st.fixed_dictionaries(
    {"name": maybe(st.text(max_size=20))},
    optional={
        "url": st.sampled_from(PARSEABLE_URLS),
        "method": maybe(st.sampled_from(["GET", "post", "", "FETCH"])),
        "description": maybe(st.text(max_size=40)),
        "required_parameters": maybe(st.lists(maybe(st.fixed_dictionaries({"name": maybe(st.text(max_size=8)), "type": maybe(st.text(max_size=8))}, optional={"default": junk, "description": junk})), max_size=3)),
        "optional_parameters": junk,
        "schema": junk,
        "test_endpoint": junk,
    },
)
toolbench_documents = st.fixed_dictionaries(
    {"tool_name": maybe(st.text(max_size=20)), "api_list": st.lists(maybe(toolbench_api), max_size=4)},
    optional={
        "tool_description": junk,
        "category": junk,
        "base_url": maybe(st.sampled_from(ODD_URLS)),
        "auth": st.lists(st.fixed_dictionaries({"name": st.text(max_size=6)}), max_size=2),
    },
)
documents = st.one_of(openapi_documents, swagger_documents, toolbench_documents, junk)


# -- writing and reading ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="toolgen-properties-") as name:
        path = Path(name)
        (path / "outside.yaml").write_text("x: {type: string}\n")
        (path / "specs").mkdir()
        (path / "specs" / ".hidden.yaml").write_text("x: {type: string}\n")
        yield path / "specs"


def encode(document: Any, as_yaml: bool) -> tuple[bytes, str]:
    if not as_yaml:
        try:
            return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS), "spec.json"
        except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits: YAML has them
            pass
    return yaml.dump(document, Dumper=yaml.CSafeDumper, allow_unicode=True).encode("utf-8"), "spec.yaml"


def task_for(folder: Path, data: bytes, name: str, fetched: bool = False) -> SourceTask:
    """``data`` as a local file, or as the cached body of a spec fetched from a URL (whose origin
    then stands in for missing or relative server URLs)."""
    path = folder / name
    path.write_bytes(data)
    if fetched:
        return SourceTask(path=path, location=f"https://specs.example.com/v1/{name}", kind="url")
    return SourceTask(path=path, location=str(path), folder_category="specs")


def prepare(folder: Path, data: bytes, name: str, fetched: bool = False) -> PreparedSource:
    return prepare_source(task_for(folder, data, name, fetched), OPTIONS, RULES)


def check(prepared: PreparedSource) -> None:
    """The property: a tool whose line loads back, or an error that is not a reader bug."""
    if prepared.error is not None:
        assert prepared.tool is None and prepared.filtered == []
        assert prepared.error.detail is None, f"a reader bug: {prepared.error}"
        return
    if prepared.tool is None:
        assert prepared.emptied_by_filters
        return
    tool = Tool.model_validate(orjson.loads(prepared.tool.line))
    assert tool.api_list and tool.id == prepared.tool.proposed_id
    assert [api.id for api in tool.api_list] == [api_id for api_id, _, _ in prepared.tool.operations]
    assert prepared.tool.summary.api_ids == [api.id for api in tool.api_list]
    # and the main process's share of the source: a final id and the duplicate check
    ids, duplicates = IdRegistry(), DuplicateOperations()
    assert ids.tool_id(prepared.tool.title, prepared.tool.location) == prepared.tool.proposed_id
    assert duplicates.repeated(prepared.tool.operations) <= {api.id for api in tool.api_list}


@EXAMPLES
@given(document=documents, as_yaml=st.booleans(), fetched=st.booleans())
def test_any_document_becomes_a_tool_or_a_recorded_error(
    folder: Path, document: Any, as_yaml: bool, fetched: bool
) -> None:
    data, name = encode(document, as_yaml)
    check(prepare(folder, data, name, fetched))
    # read_source, the reader alone: one tool that validates, or one error that is not a bug
    outcome = read_source(task_for(folder, data, name, fetched), OPTIONS)
    if outcome.error is None:
        assert len(outcome.tools) == 1 and Tool.model_validate(outcome.tools[0]).api_list
    else:
        assert outcome.tools == [] and outcome.error.detail is None, outcome.error


@EXAMPLES
@given(document=st.one_of(openapi_documents, swagger_documents, toolbench_documents), data=st.data())
def test_a_mutated_file_becomes_a_tool_or_a_recorded_error(folder: Path, document: Any, data: st.DataObject) -> None:
    raw, name = encode(document, data.draw(st.booleans()))
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        if not mutated:
            break
        at = data.draw(st.integers(min_value=0, max_value=len(mutated) - 1))
        how = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if how == "flip":
            mutated[at] = data.draw(st.integers(min_value=0, max_value=255))
        elif how == "insert":
            mutated[at:at] = data.draw(st.sampled_from([b"{", b"[", b"- ", b"&a ", b"*a", b"!!python/name:os.system", b"\xff\xfe", b"\x00", b'"', b"\n  "]))
        elif how == "delete":
            del mutated[at : at + data.draw(st.integers(min_value=1, max_value=20))]
        else:
            del mutated[at:]
    check(prepare(folder, bytes(mutated), name))


def test_the_strategies_reach_real_tools_and_real_errors(folder: Path) -> None:
    """Guards the properties against strategies that only ever make errors (or only tools)."""
    good = {
        "openapi": "3.0.0",
        "info": {"title": math.pi},
        "servers": [{"url": "http://[domain]:8080"}],
        "paths": {"/a": {"get": {"summary": 2**70, "responses": {"200": {"description": float("nan")}}}}},
    }
    prepared = prepare(folder, *encode(good, as_yaml=True))
    check(prepared)
    assert prepared.tool is not None
    bad = prepare(folder, b"{", "spec.json")
    check(bad)
    assert bad.error is not None
