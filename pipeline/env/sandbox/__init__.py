"""A bundled server of working REST APIs, described by the OpenAPI files in ``api_specs/sandbox``.

The default environment of the pipeline: realistic, seeded, deterministic data; real HTTP
behaviour (validation errors, 404s, rate limits, API keys, latency); and tools whose outputs
feed each other's inputs (city ids, coordinates, airport codes, movie ids, currencies).
"""

from .app import CLIENT_HEADER, SANDBOX_API_KEY, create_app
from .examples import ExampleRequest, example_request
from .server import SandboxServer, run_sandbox, start_sandbox
from .specs import ToolSpec, load_tool_specs, sandbox_spec_dir

__all__ = [
    "CLIENT_HEADER",
    "SANDBOX_API_KEY",
    "ExampleRequest",
    "SandboxServer",
    "ToolSpec",
    "create_app",
    "example_request",
    "load_tool_specs",
    "run_sandbox",
    "sandbox_spec_dir",
    "start_sandbox",
]
