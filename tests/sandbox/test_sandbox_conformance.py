"""Every operation of every sandbox spec works when called with its documented examples,
and answers with a body that matches the response schema its spec declares."""

from __future__ import annotations

import aiohttp
import pytest

from pipeline.env.sandbox import load_tool_specs, start_sandbox
from pipeline.env.sandbox.examples import example_request
from pipeline.env.sandbox.schemas import SchemaSet

SPECS = load_tool_specs()
SPECS_BY_SLUG = {spec.slug: spec for spec in SPECS}
OPERATIONS = [(spec.slug, op.operation_id) for spec in SPECS for op in spec.operations]


@pytest.mark.asyncio
@pytest.mark.parametrize("optional", [True, False], ids=["all-examples", "required-only"])
@pytest.mark.parametrize(("slug", "operation_id"), OPERATIONS)
async def test_operation_answers_its_examples_with_the_declared_schema(
    slug: str, operation_id: str, optional: bool
) -> None:
    spec = SPECS_BY_SLUG[slug]
    operation = next(op for op in spec.operations if op.operation_id == operation_id)
    request = example_request(spec, operation, optional=optional)

    server = await start_sandbox(specs=[spec], rate_limit_per_minute=None)
    async with (
        server,
        aiohttp.ClientSession() as session,
        session.request(
            request.method,
            server.tool_url(slug) + request.path,
            params=request.query,
            headers=request.headers,
            json=request.body,
        ) as response,
    ):
        status = response.status
        body = await response.json()

    assert 200 <= status < 300, f"{operation_id} {request}: {status} {body}"
    declared = operation.responses.get(str(status))
    assert declared is not None, f"{operation_id} answered {status}, which its spec does not declare"
    schema = declared["content"]["application/json"]["schema"]
    errors = sorted(SchemaSet(spec.document).validator(schema).iter_errors(body), key=str)
    assert not errors, f"{operation_id}: {errors[0].message} at {list(errors[0].absolute_path)}"
