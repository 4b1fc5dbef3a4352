"""The duplicate filter's key: what makes two operations the same, for every shape of URL."""

from __future__ import annotations

import pytest

from pipeline.models import Api, SourceRef, Tool
from pipeline.specs.filters import DuplicateOperations, operation_key


def tool_with(*apis: Api, name: str = "Weather") -> Tool:
    source = SourceRef(kind="file", location="w.json", format="toolbench")
    return Tool(tool_name=name, source=source, api_list=list(apis))


@pytest.mark.parametrize(
    ("url", "path", "where"),
    [
        ("https://API.example.com/v1/pets/{petId}/", "/pets/{petId}", "api.example.com/v1/pets/{}"),
        ("https://api.example.com/v1/pets/:id", "", "api.example.com/v1/pets/{}"),
        ("http://[::1]:8080/pets", "/pets", "[::1]:8080/pets"),
        # hosts urlsplit refuses are compared as written, query and fragment left out
        ("http://[domain]:8080/pets/{id}?x=1", "/pets/{id}", "[domain]:8080/pets/{}"),
        ("http://[Domain/pets#frag", "", "[domain/pets"),
        # no host: the path within the tool
        ("/pets/{id}", "/pets/{id}", "weather|/pets/{}"),
    ],
)
def test_operations_are_keyed_by_host_and_path_template(url: str, path: str, where: str) -> None:
    api = Api(name="getPet", url=url, path=path, method="get")
    assert operation_key(tool_with(api), api) == ("GET", where)


def test_operations_without_a_url_are_keyed_by_their_name() -> None:
    first, second = Api(name="first"), Api(name="second")
    tool = tool_with(first, second, name="No Urls")
    assert operation_key(tool, first) == ("GET", "no urls#first")
    assert operation_key(tool, first) != operation_key(tool, second)
    assert operation_key(tool_with(first, name="Other"), first) != operation_key(tool, first)


def test_duplicates_are_judged_against_the_catalog_and_the_same_list_and_remembered_on_request() -> None:
    duplicates = DuplicateOperations()
    operations = [("a", "GET", "h/x"), ("b", "GET", "h/x"), ("c", "POST", "h/x")]
    assert duplicates.repeated(operations) == {"b"}
    assert duplicates.repeated(operations) == {"b"}  # nothing remembered yet
    duplicates.remember(operations)
    assert duplicates.repeated([("z", "POST", "h/x"), ("y", "PUT", "h/x")]) == {"z"}
