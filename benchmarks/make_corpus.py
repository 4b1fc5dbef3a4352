"""Generate a synthetic, APIs.guru-like corpus of REST API specs for benchmarking ``collect``.

    python benchmarks/make_corpus.py OUT_DIR [--count 2000] [--seed 0] [--total-mb 150] [--jobs N]

The corpus mimics what the collect stage meets in the wild:

* formats: ~45% OpenAPI 3.0 YAML, ~25% OpenAPI 3.0/3.1 JSON, ~25% Swagger 2.0 (JSON or YAML),
  ~5% ToolBench tool documents under ``toolbench/<Category>/``; ~1% broken files (invalid
  YAML, truncated JSON, a YAML file that is not a spec, an empty file);
* sizes: heavy-tailed; most files 10-100 KB, some 100 KB-1 MB, a couple of dozen 1-5 MB and a
  few ~10 MB "cloud provider" specs (the total is scaled to ``--total-mb``);
* content: many paths and operations, ``components/schemas`` (``definitions``) wired with
  ``$ref``s (nested objects, ``allOf`` inheritance, ``oneOf`` polymorphism, recursive
  parent/children links), shared parameters and responses by ``$ref``, enums and examples,
  request bodies (JSON, form, multipart), several responses per operation, long markdown
  descriptions, security schemes, tags and ``x-apisguru-categories``; some providers appear in
  several versions (so the duplicate filter has work to do).

Everything is a function of ``--seed`` and the file's index, so the corpus is reproducible and
files are generated in parallel. JSON is written with orjson and YAML with libyaml's emitter.

``--hostile N`` adds ``hostile/``: about N files of each failure class met in real spec
collections, each of which once cost a whole ``collect`` run or a part of the catalog:
server URLs ``urlsplit`` refuses (``http://[domain]:8080``), ToolBench documents from query files
(APIs without URLs), ``$ref``s to dotfiles beside the spec, fields of the wrong type, plus one
named pipe, a symlink to ``/dev/zero``, a symlink loop, a dangling symlink and one YAML of small
nodes (``--hostile-yaml-mb``, default 49 MB: over 6 GB to parse).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

CATEGORIES = [
    "cloud", "developer_tools", "financial", "ecommerce", "media", "messaging", "location",
    "analytics", "security", "open_data", "entertainment", "enterprise", "social", "iot",
    "transport", "collaboration", "marketing", "hosting", "payment", "monitoring",
]
TOOLBENCH_CATEGORIES = [
    "Data", "Finance", "Sports", "Weather", "Travel", "Entertainment", "Tools", "Communication",
    "Business", "Food", "Music", "Location", "eCommerce", "Health_and_Fitness", "Social",
]
NOUNS = (
    "account user order invoice payment customer product cart item shipment address contact "
    "project task comment attachment file folder document report metric alert event webhook "
    "subscription plan coupon discount refund transaction balance transfer card wallet ledger "
    "device sensor reading location route vehicle driver trip booking hotel room flight ticket "
    "playlist track album artist video channel stream message thread conversation notification "
    "team member role permission policy key secret certificate domain record zone instance "
    "volume snapshot image network subnet firewall rule bucket object queue topic job pipeline "
    "build release deployment environment cluster node pod service endpoint dataset table column "
    "query dashboard widget campaign audience segment lead opportunity ticket article category tag"
).split()
WORDS = (
    "the a an of to and for with by from on in at this that these those each every any all "
    "returns retrieves creates updates deletes lists manages configures specified given current "
    "resource resources request response field value identifier unique optional required "
    "default maximum minimum number string object array results page token cursor filter sort "
    "order ascending descending timestamp created updated status active inactive pending "
    "completed failed cancelled archived visible hidden public private internal external "
    "account organization workspace region zone endpoint version format encoding language "
    "locale currency amount quantity price total limit offset size count metadata labels "
    "annotations description name title display summary details settings options preferences "
    "permissions scope access authentication authorization credentials token expiry lifetime "
    "rate quota usage billing invoice customer user member owner administrator operator client "
    "server network connection retry timeout error warning notice deprecated experimental beta "
    "note must should may can will only when if unless otherwise however therefore because"
).split()
# Property kinds and their weights. The "ref-ish" kinds (ref, array of ref, oneOf) are scaled by
# --ref-fanout: at 1.0 a schema references ~1.5 others on average (big schemas more),
# which is what typical APIs.guru specs look like; 3.0 gives the dense, Stripe/GitHub-like graphs
# where most operations' inlined schemas hit the collector's node budget.
KIND_WEIGHTS = {"string": 30, "integer": 8, "number": 4, "boolean": 8, "datetime": 8, "enum": 8,
                "array": 6, "object": 5, "map": 2, "ref": 4, "oneof": 1.5}
REF_KINDS = ("ref", "oneof")
ENUM_WORDS = ["active", "inactive", "pending", "archived", "draft", "published", "failed",
              "succeeded", "queued", "running", "cancelled", "expired", "open", "closed",
              "low", "medium", "high", "critical", "asc", "desc", "json", "xml", "csv"]


# -- text --------------------------------------------------------------------------------------


def sentence(rng: random.Random, lo: int = 6, hi: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), f"`{rng.choice(NOUNS)}_{rng.choice(NOUNS)}`")
    if rng.random() < 0.03:
        words.append(rng.choice(["naïve", "Zürich", "résumé", "東京", "—", "ü"]))
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, lo: int = 1, hi: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def long_text(rng: random.Random, scale: float) -> str:
    """A markdown description; ``scale`` makes big providers wordier, as they are."""
    parts = [paragraph(rng, 1, 4)]
    for _ in range(int(rng.random() * 3 * scale)):
        if rng.random() < 0.3:
            parts.append("\n".join(f"- {sentence(rng, 3, 9)}" for _ in range(rng.randint(2, 5))))
        elif rng.random() < 0.15:
            parts.append("```json\n" + orjson.dumps({rng.choice(NOUNS): rng.randint(1, 999)}).decode() + "\n```")
        else:
            parts.append(paragraph(rng, 2, 6))
    return "\n\n".join(parts)


def camel(*words: str) -> str:
    return words[0] + "".join(w.capitalize() for w in words[1:])


def pascal(*words: str) -> str:
    return "".join(w.capitalize() for w in words)


# -- one spec ------------------------------------------------------------------------------------


class SpecBuilder:
    """Builds an OpenAPI 3.x or Swagger 2.0 document around a set of resources."""

    def __init__(self, rng: random.Random, *, swagger: bool, resources: int, wordiness: float,
                 int_codes: bool, openapi: str = "3.0.3", fanout: float = 1.0) -> None:
        self.rng = rng
        self.fanout = fanout
        self.kinds = list(KIND_WEIGHTS)
        self.weights = [w * fanout if k in REF_KINDS else w for k, w in KIND_WEIGHTS.items()]
        self.swagger = swagger
        self.wordiness = wordiness
        self.int_codes = int_codes  # YAML specs often leave response codes unquoted (int keys)
        self.openapi = openapi
        self.prefix = "#/definitions/" if swagger else "#/components/schemas/"
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < resources:
            base = rng.choice(NOUNS)
            name = base if base not in seen else f"{base}_{rng.choice(NOUNS)}"
            if name in seen:
                name = f"{name}{len(names)}"
            seen.add(name)
            names.append(name)
        self.resources = names
        self.schemas: dict[str, Any] = {}

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": self.prefix + name}

    def code(self, value: str) -> Any:
        return int(value) if self.int_codes and value.isdigit() else value

    # schemas

    def property_schema(self, owner: str, index: int) -> dict[str, Any]:
        rng = self.rng
        kind = rng.choices(self.kinds, self.weights)[0]
        desc = sentence(rng, 4, 14) if rng.random() < 0.8 else None
        if kind == "string":
            schema: dict[str, Any] = {"type": "string"}
            roll = rng.random()
            if roll < 0.2:
                schema["format"] = rng.choice(["email", "uri", "uuid", "hostname", "ipv4", "byte"])
            elif roll < 0.35:
                schema["maxLength"] = rng.choice([64, 128, 255, 1024])
                schema["pattern"] = "^[a-zA-Z0-9_-]+$"
            if rng.random() < 0.4:
                schema["example"] = f"{rng.choice(NOUNS)}_{rng.randint(1, 99999)}"
        elif kind in ("integer", "number"):
            schema = {"type": kind}
            if kind == "integer" and rng.random() < 0.5:
                schema["format"] = rng.choice(["int32", "int64"])
            if rng.random() < 0.4:
                schema["minimum"] = 0
                schema["maximum"] = rng.choice([100, 1000, 2**31 - 1])
            if rng.random() < 0.4:
                schema["example"] = rng.randint(0, 500) if kind == "integer" else round(rng.random() * 100, 2)
        elif kind == "boolean":
            schema = {"type": "boolean", "default": rng.random() < 0.5}
        elif kind == "datetime":
            schema = {"type": "string", "format": rng.choice(["date-time", "date"])}
            if rng.random() < 0.3:
                schema["example"] = "2023-04-01T12:00:00Z"
        elif kind == "enum":
            values = rng.sample(ENUM_WORDS, rng.randint(2, 8))
            schema = {"type": "string", "enum": values, "example": values[0]}
        elif kind == "array":
            if rng.random() < min(1.0, 0.35 * self.fanout) and self.resources:
                items: dict[str, Any] = self.ref(rng.choice(self.resources))
            else:
                items = {"type": "string"}
            schema = {"type": "array", "items": items}
            if rng.random() < 0.3:
                schema["maxItems"] = rng.choice([10, 50, 100])
        elif kind == "ref":
            target = rng.choice(self.resources)
            schema = self.ref(target)
            desc = None  # siblings of $ref are ignored in 3.0
        elif kind == "oneof" and not self.swagger:
            a, b = rng.sample(self.resources, 2) if len(self.resources) > 1 else (self.resources[0],) * 2
            schema = {"oneOf": [self.ref(a), self.ref(b)]}
            if rng.random() < 0.5:
                schema["discriminator"] = {"propertyName": "kind"}
        elif kind == "map":
            schema = {"type": "object", "additionalProperties": {"type": "string"}}
        else:  # nested inline object
            schema = {
                "type": "object",
                "properties": {
                    camel(rng.choice(NOUNS), rng.choice(["id", "name", "count", "url"])): {
                        "type": rng.choice(["string", "integer", "boolean"]),
                        "description": sentence(rng, 3, 8),
                    }
                    for _ in range(rng.randint(2, 6))
                },
            }
        if desc:
            schema["description"] = desc
        if not self.swagger and "type" in schema and rng.random() < 0.1:
            if self.openapi.startswith("3.1"):
                schema["type"] = [schema["type"], "null"]
            else:
                schema["nullable"] = True
        if rng.random() < 0.05:
            schema["readOnly"] = True
        return schema

    def build_schemas(self) -> None:
        rng = self.rng
        self.schemas["Error"] = {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer", "format": "int32", "example": 404},
                "message": {"type": "string", "description": "A human-readable error message."},
                "details": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "issue": {"type": "string"}}}},
            },
        }
        self.schemas["PageInfo"] = {
            "type": "object",
            "properties": {
                "nextCursor": {"type": "string", "description": sentence(rng)},
                "total": {"type": "integer", "description": sentence(rng)},
                "hasMore": {"type": "boolean"},
            },
        }
        for name in self.resources:
            title = pascal(*name.split("_"))
            nprops = rng.randint(5, 25)
            props = {"id": {"type": "string", "format": "uuid", "readOnly": True, "description": f"Unique identifier of the {name}."}}
            for i in range(nprops):
                key = camel(rng.choice(NOUNS), rng.choice(["id", "name", "type", "status", "count", "url", "at", "info", "data", "value"]))
                props[key] = self.property_schema(name, i)
            if rng.random() < min(0.6, 0.15 * self.fanout):  # recursive structures (trees, threads)
                props["parent"] = self.ref(f"{title}")
                props["children"] = {"type": "array", "items": self.ref(f"{title}")}
            base: dict[str, Any] = {
                "type": "object",
                "description": long_text(rng, self.wordiness * 0.5),
                "properties": {"createdAt": {"type": "string", "format": "date-time"},
                               "updatedAt": {"type": "string", "format": "date-time"},
                               "metadata": {"type": "object", "additionalProperties": {"type": "string"}}},
            }
            self.schemas[f"{title}Base"] = base
            self.schemas[title] = {
                "allOf": [self.ref(f"{title}Base"), {
                    "type": "object",
                    "required": rng.sample(sorted(props), min(len(props), rng.randint(1, 4))),
                    "properties": props,
                }],
                "description": paragraph(rng, 1, 3),
            }
            if rng.random() < 0.4:
                self.schemas[title]["example"] = {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "name": rng.choice(NOUNS)}
            create_props = {k: v for k, v in list(props.items())[1:] if "$ref" not in v and "oneOf" not in v}
            self.schemas[f"{title}Create"] = {
                "type": "object",
                "required": sorted(create_props)[: rng.randint(0, 3)],
                "properties": create_props,
            }
            self.schemas[f"{title}List"] = {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": self.ref(title)},
                    "pageInfo": self.ref("PageInfo"),
                },
            }
        # resources' property refs used lower-case names; point them at the PascalCase schemas
        for schema in self.schemas.values():
            _fix_refs(schema, self.prefix)

    # parameters / responses

    def shared_parameters(self) -> dict[str, Any]:
        rng = self.rng
        limit = {"name": "limit", "in": "query", "description": sentence(rng), "required": False}
        cursor = {"name": "cursor", "in": "query", "description": sentence(rng), "required": False}
        fields = {"name": "fields", "in": "query", "description": long_text(rng, 0.3), "required": False}
        request_id = {"name": "X-Request-Id", "in": "header", "description": sentence(rng), "required": False}
        if self.swagger:
            limit.update(type="integer", minimum=1, maximum=100, default=20)
            cursor.update(type="string")
            fields.update(type="array", items={"type": "string"}, collectionFormat="csv")
            request_id.update(type="string", format="uuid")
        else:
            limit.update(schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, example=20)
            cursor.update(schema={"type": "string"})
            fields.update(schema={"type": "array", "items": {"type": "string"}}, style="form", explode=False)
            request_id.update(schema={"type": "string", "format": "uuid"})
        return {"limit": limit, "cursor": cursor, "fields": fields, "requestId": request_id}

    def param_ref(self, name: str) -> dict[str, Any]:
        return {"$ref": ("#/parameters/" if self.swagger else "#/components/parameters/") + name}

    def response_ref(self, name: str) -> dict[str, Any]:
        return {"$ref": ("#/responses/" if self.swagger else "#/components/responses/") + name}

    def shared_responses(self) -> dict[str, Any]:
        out = {}
        for name, text in (("NotFound", "The resource was not found."),
                           ("Unauthorized", "Authentication is missing or invalid."),
                           ("RateLimited", "Too many requests; retry after the given delay.")):
            out[name] = self.body_response(text, self.ref("Error"), example={"code": 404, "message": text})
        return out

    def body_response(self, description: str, schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
        if self.swagger:
            response: dict[str, Any] = {"description": description, "schema": schema}
            if example is not None:
                response["examples"] = {"application/json": example}
            return response
        media: dict[str, Any] = {"schema": schema}
        if example is not None:
            media["example"] = example
        content = {"application/json": media}
        if self.rng.random() < 0.1:
            content["application/xml"] = {"schema": schema}
        return {"description": description, "content": content}

    def query_param(self) -> dict[str, Any]:
        rng = self.rng
        name = camel(rng.choice(NOUNS), rng.choice(["id", "status", "type", "since", "until", "q"]))
        param: dict[str, Any] = {"name": name, "in": "query", "description": paragraph(rng, 1, 2)}
        enum = rng.sample(ENUM_WORDS, rng.randint(2, 6)) if rng.random() < 0.35 else None
        if self.swagger:
            param["type"] = "string"
            if enum:
                param["enum"] = enum
            if rng.random() < 0.3:
                param["x-example"] = enum[0] if enum else "example"
        else:
            param["schema"] = {"type": "string", **({"enum": enum} if enum else {})}
            if rng.random() < 0.3:
                param["example"] = enum[0] if enum else "example"
            elif rng.random() < 0.1:
                param["examples"] = {"basic": {"summary": "basic", "value": enum[-1] if enum else "x"}}
        if rng.random() < 0.15:
            param["required"] = True
        return param

    def operation(self, verb: str, method: str, resource: str, title: str, tag: str, item: bool) -> dict[str, Any]:
        rng = self.rng
        op: dict[str, Any] = {
            "tags": [tag],
            "summary": f"{verb.capitalize()} {'a ' if item else ''}{resource.replace('_', ' ')}{'' if item else 's'}",
            "description": long_text(rng, self.wordiness),
            "operationId": camel(verb, *resource.split("_")) + ("" if item else "s") + (str(rng.randint(2, 9)) if rng.random() < 0.02 else ""),
        }
        params: list[Any] = []
        if method == "get" and not item:
            params += [self.param_ref("limit"), self.param_ref("cursor")]
            params += [self.query_param() for _ in range(rng.randint(0, 6))]
        if rng.random() < 0.3:
            params.append(self.param_ref("fields"))
        if rng.random() < 0.2:
            params.append(self.param_ref("requestId"))
        responses: dict[Any, Any] = {}
        if method in ("post", "put", "patch"):
            body_schema = self.ref(f"{title}Create")
            if self.swagger:
                params.append({"name": "body", "in": "body", "required": True, "description": sentence(rng), "schema": body_schema})
                if rng.random() < 0.1:
                    op["consumes"] = ["application/json"]
            else:
                content: dict[str, Any] = {"application/json": {"schema": body_schema}}
                if rng.random() < 0.3:
                    content["application/json"]["example"] = {"name": rng.choice(NOUNS), "status": "active"}
                if rng.random() < 0.1:
                    content["multipart/form-data"] = {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}
                op["requestBody"] = {"required": True, "description": sentence(rng), "content": content}
        if rng.random() < 0.03 and self.swagger and method == "post":
            params.append({"name": "upload", "in": "formData", "type": "file", "description": sentence(rng)})
        if params:
            op["parameters"] = params
        ok_code = "201" if method == "post" else ("204" if method == "delete" else "200")
        if method == "delete":
            responses[self.code("204")] = {"description": "Deleted."}
        else:
            schema = self.ref(title if item or method != "get" else f"{title}List")
            example = {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"} if rng.random() < 0.4 else None
            responses[self.code(ok_code)] = self.body_response(paragraph(rng, 1, 2), schema, example)
        responses[self.code("400")] = self.body_response("Bad request.", self.ref("Error"))
        responses[self.code("401")] = self.response_ref("Unauthorized")
        if item:
            responses[self.code("404")] = self.response_ref("NotFound")
        if rng.random() < 0.5:
            responses[self.code("429")] = self.response_ref("RateLimited")
        responses["default"] = self.body_response("Unexpected error.", self.ref("Error"))
        op["responses"] = responses
        if rng.random() < 0.03:
            op["deprecated"] = True
        if rng.random() < 0.2:
            op["security"] = [{"oauth2": ["read", "write"]}]
        return op

    def paths(self) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {}
        for resource in self.resources:
            title = pascal(*resource.split("_"))
            slug = resource.replace("_", "-") + "s"
            tag = resource.replace("_", " ").title()
            collection: dict[str, Any] = {"get": self.operation("list", "get", resource, title, tag, False)}
            if rng.random() < 0.8:
                collection["post"] = self.operation("create", "post", resource, title, tag, False)
            out[f"/{slug}"] = collection
            item_path = f"/{slug}/{{{camel(*resource.split('_'))}Id}}"
            id_param = {"name": f"{camel(*resource.split('_'))}Id", "in": "path", "required": True,
                        "description": f"The identifier of the {resource.replace('_', ' ')}."}
            if self.swagger:
                id_param["type"] = "string"
            else:
                id_param["schema"] = {"type": "string", "format": "uuid"}
            item: dict[str, Any] = {"parameters": [id_param], "get": self.operation("get", "get", resource, title, tag, True)}
            for method, verb in (("put", "replace"), ("patch", "update"), ("delete", "delete")):
                if rng.random() < 0.6:
                    item[method] = self.operation(verb, method, resource, title, tag, True)
            out[item_path] = item
            if rng.random() < 0.3:
                sub = rng.choice(self.resources)
                sub_title = pascal(*sub.split("_"))
                out[f"{item_path}/{sub.replace('_', '-')}s"] = {
                    "parameters": [id_param],
                    "get": self.operation("list", "get", sub, sub_title, tag, False),
                }
        return out

    def document(self, provider: str, host: str, category: str, version: str) -> dict[str, Any]:
        rng = self.rng
        self.build_schemas()
        paths = self.paths()
        info: dict[str, Any] = {
            "title": f"{provider.replace('_', ' ').title()} API",
            "version": version,
            "description": long_text(rng, 2 + self.wordiness),
            "contact": {"name": "API Support", "url": f"https://{host}/support", "email": f"api@{host}"},
            "license": {"name": "Apache 2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0.html"},
            "x-logo": {"url": f"https://{host}/logo.png"},
            "x-origin": [{"format": "openapi" if not self.swagger else "swagger", "url": f"https://{host}/spec", "version": "3.0"}],
            "x-providerName": host,
        }
        if rng.random() < 0.85:
            info["x-apisguru-categories"] = [category]
        tags = [{"name": r.replace("_", " ").title(), "description": sentence(rng)} for r in self.resources[:40]]
        security_schemes = {
            "oauth2": {"type": "oauth2", "description": sentence(rng)},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        if self.swagger:
            security_schemes["oauth2"].update(flow="accessCode", authorizationUrl=f"https://{host}/oauth/authorize",
                                              tokenUrl=f"https://{host}/oauth/token", scopes={"read": "Read", "write": "Write"})
            doc: dict[str, Any] = {
                "swagger": "2.0",
                "info": info,
                "host": host,
                "basePath": f"/{version.split('.')[0]}",
                "schemes": ["https"],
                "consumes": ["application/json"],
                "produces": ["application/json"] if rng.random() < 0.95 else ["application/xml"],
                "securityDefinitions": security_schemes,
                "security": [{"apiKey": []}],
                "tags": tags,
                "paths": paths,
                "parameters": self.shared_parameters(),
                "responses": self.shared_responses(),
                "definitions": self.schemas,
            }
        else:
            security_schemes["oauth2"]["flows"] = {"authorizationCode": {
                "authorizationUrl": f"https://{host}/oauth/authorize", "tokenUrl": f"https://{host}/oauth/token",
                "scopes": {"read": "Read access", "write": "Write access"}}}
            security_schemes["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            doc = {
                "openapi": self.openapi,
                "info": info,
                "servers": [{"url": "https://{region}." + host + "/{basePath}",
                             "variables": {"region": {"default": "api", "enum": ["api", "eu", "us"]},
                                           "basePath": {"default": version.split(".")[0]}}}],
                "security": [{"apiKey": []}, {"bearer": []}],
                "tags": tags,
                "paths": paths,
                "components": {
                    "schemas": self.schemas,
                    "parameters": self.shared_parameters(),
                    "responses": self.shared_responses(),
                    "securitySchemes": security_schemes,
                },
            }
        if rng.random() < 0.3:
            doc["externalDocs"] = {"url": f"https://{host}/docs", "description": sentence(rng)}
        return doc


def _fix_refs(node: Any, prefix: str) -> None:
    """Property refs were drawn from lower-case resource names; point them at PascalCase schemas."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            name = ref[len(prefix):]
            if name and name[0].islower():
                node["$ref"] = prefix + pascal(*name.split("_"))
        for value in node.values():
            _fix_refs(value, prefix)
    elif isinstance(node, list):
        for value in node:
            _fix_refs(value, prefix)


def toolbench_document(rng: random.Random, provider: str, category: str, target: int) -> dict[str, Any]:
    host = f"{provider.replace('_', '-')}.p.rapidapi.com"
    apis = []
    size = 0
    while size < target or not apis:
        resource = rng.choice(NOUNS)
        method = rng.choice(["GET", "GET", "GET", "POST"])
        params = []
        for _ in range(rng.randint(0, 5)):
            params.append({
                "name": camel(rng.choice(NOUNS), rng.choice(["id", "name", "q", "limit"])),
                "type": rng.choice(["STRING", "STRING", "NUMBER", "BOOLEAN", "ENUM", "DATE (YYYY-MM-DD)"]),
                "description": sentence(rng),
                "default": rng.choice(["", "10", "en", "true"]),
            })
        api = {
            "name": f"{resource.title()} {rng.choice(['Search', 'Details', 'List', 'Lookup'])}",
            "url": f"https://{host}/{resource}/{{{resource}Id}}" if rng.random() < 0.3 else f"https://{host}/{resource}",
            "description": paragraph(rng, 1, 4),
            "method": method,
            "required_parameters": params[: len(params) // 2],
            "optional_parameters": params[len(params) // 2:],
            "code": "import requests\n\nurl = \"https://" + host + "/\"\nresponse = requests.get(url)\nprint(response.text)",
            "test_endpoint": {"status": "success", "data": [{"id": rng.randint(1, 999), "name": rng.choice(NOUNS)}]},
            "schema": {"type": "object", "properties": {"data": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}}}}}},
        }
        size += len(orjson.dumps(api))
        apis.append(api)
    return {
        "tool_name": provider.replace("_", " ").title(),
        "tool_description": paragraph(rng, 1, 3),
        "title": provider.replace("_", " ").title(),
        "pricing": rng.choice(["FREE", "FREEMIUM", "PAID"]),
        "score": {"avgServiceLevel": 100, "avgLatency": rng.randint(50, 2000), "avgSuccessRate": 99, "popularityScore": 9.1},
        "home_url": f"https://rapidapi.com/{provider}/api/{provider}",
        "host": host,
        "api_list": apis,
    }


# -- the plan: which file is what ---------------------------------------------------------------

# Bytes of serialised output per resource, per format (measured; only used to size files).
BYTES_PER_RESOURCE = {"oas-yaml": 21500, "oas-json": 22500, "swagger-json": 21500, "swagger-yaml": 20000}


def plan(count: int, seed: int, total_bytes: int) -> list[dict[str, Any]]:
    rng = random.Random(f"plan:{seed}")
    entries: list[dict[str, Any]] = []
    n_broken = max(4, round(count * 0.01))
    n_huge = round(count * 0.0015)  # ~10 MB cloud-provider specs
    n_big = round(count * 0.008)   # 1-5 MB
    n_medium = round(count * 0.05)          # 100 KB - 1 MB
    for index in range(count):
        roll = rng.random()
        if roll < 0.45:
            kind = "oas-yaml"
        elif roll < 0.70:
            kind = "oas-json"
        elif roll < 0.82:
            kind = "swagger-json"
        elif roll < 0.95:
            kind = "swagger-yaml"
        else:
            kind = "toolbench"
        entries.append({"index": index, "kind": kind})
    specs = [e for e in entries if e["kind"] != "toolbench"]
    order = list(range(len(specs)))
    rng.shuffle(order)
    for rank, position in enumerate(order):
        entry = specs[position]
        if rank < n_huge:
            entry["size"] = rng.uniform(8e6, 12e6)
        elif rank < n_huge + n_big:
            entry["size"] = math.exp(rng.uniform(math.log(1e6), math.log(5e6)))
        elif rank < n_huge + n_big + n_medium:
            entry["size"] = math.exp(rng.uniform(math.log(1e5), math.log(1e6)))
        else:
            entry["size"] = math.exp(rng.uniform(math.log(1e4), math.log(1e5)))
    for entry in entries:
        if entry["kind"] == "toolbench":
            entry["size"] = math.exp(rng.uniform(math.log(3e3), math.log(6e4)))
    # scale the ordinary files so the total lands near the requested size (big ones stay big)
    fixed = sum(e["size"] for e in entries if e["size"] >= 1e6 or e["kind"] == "toolbench")
    flexible = sum(e["size"] for e in entries if e["size"] < 1e6 and e["kind"] != "toolbench")
    factor = max(0.2, (total_bytes - fixed) / flexible) if flexible else 1.0
    for entry in entries:
        if entry["size"] < 1e6 and entry["kind"] != "toolbench":
            entry["size"] *= factor
    # broken files replace some small ordinary ones
    small = [e for e in entries if e["kind"] != "toolbench" and e["size"] < 1e5]
    broken_kinds = ["invalid-yaml", "truncated-json", "not-a-spec", "empty"]
    for i, entry in enumerate(rng.sample(small, min(n_broken, len(small)))):
        entry["broken"] = broken_kinds[i % len(broken_kinds)]
    # some providers come in several versions: reuse an earlier provider's identity
    for entry in entries:
        entry["provider_seed"] = entry["index"]
        if entry["index"] > 50 and entry["kind"] != "toolbench" and rng.random() < 0.05:
            entry["provider_seed"] = rng.randrange(entry["index"])
    return entries


def provider_identity(seed: int, provider_seed: int) -> tuple[str, str, str]:
    rng = random.Random(f"provider:{seed}:{provider_seed}")
    name = f"{rng.choice(NOUNS)}_{rng.choice(NOUNS)}{provider_seed}"
    host = f"api.{name.replace('_', '')}.com"
    return name, host, rng.choice(CATEGORIES)


class _Dumper(yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # never emit &id001 anchors for shared dicts
        return True


def dump_yaml(doc: Any) -> bytes:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120).encode("utf-8")


def render(entry: dict[str, Any], seed: int, resources: int, fanout: float = 1.0) -> bytes:
    kind = entry["kind"]
    rng = random.Random(f"file:{seed}:{entry['index']}")
    name, host, category = provider_identity(seed, entry["provider_seed"])
    swagger = kind.startswith("swagger")
    yaml_out = kind.endswith("yaml")
    # the provider seed fixes the resources, so versions of one provider share operations
    res_rng = random.Random(f"resources:{seed}:{entry['provider_seed']}")
    openapi = "3.1.0" if kind == "oas-json" and rng.random() < 0.25 else rng.choice(["3.0.0", "3.0.1", "3.0.3"])
    builder = SpecBuilder(
        res_rng, swagger=swagger, resources=resources,
        wordiness=(0.4 if entry["size"] < 4e4 else 1.0) + (2.0 if entry["size"] > 1e6 else 0.0) * rng.random(),
        int_codes=yaml_out and rng.random() < 0.6, openapi=openapi, fanout=fanout,
    )
    builder.rng = rng  # names come from the provider, everything else from the file
    version = f"{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    doc = builder.document(name, host, category, version)
    return dump_yaml(doc) if yaml_out else orjson.dumps(doc, option=orjson.OPT_INDENT_2 if rng.random() < 0.5 else 0)


def generate_one(args: tuple[dict[str, Any], int, str, float]) -> tuple[str, int, str]:
    entry, seed, out_dir, fanout = args
    kind = entry["kind"]
    rng = random.Random(f"file:{seed}:{entry['index']}")
    name, _host, category = provider_identity(seed, entry["provider_seed"])
    if kind == "toolbench":
        tb_category = random.Random(f"tb:{seed}:{entry['index']}").choice(TOOLBENCH_CATEGORIES)
        path = Path(out_dir) / "toolbench" / tb_category / f"{name}.json"
        data = orjson.dumps(toolbench_document(rng, name, tb_category, int(entry["size"])), option=orjson.OPT_INDENT_2)
        return _write(path, data, kind)
    suffix = ".yaml" if kind.endswith("yaml") else ".json"
    if entry["index"] != entry["provider_seed"]:
        name = f"{name}_v{entry['index'] % 7 + 2}"
    path = Path(out_dir) / category / f"{name}{suffix}"
    broken = entry.get("broken")
    if broken == "empty":
        return _write(path, b"", "broken:empty")
    if broken == "not-a-spec":
        path = path.with_suffix(".yaml")
        doc = {"version": "3.8", "services": {"web": {"image": "nginx:1.25", "ports": ["80:80"],
                                                     "environment": {"DEBUG": "false"}}},
               "volumes": {"data": {}}}
        return _write(path, dump_yaml(doc), "broken:not-a-spec")
    estimate = BYTES_PER_RESOURCE[kind]
    resources = max(1, round(entry["size"] / estimate))
    data = render(entry, seed, resources, fanout)
    # one correction pass when the size estimate was far off (keeps the size distribution honest)
    if entry["size"] > 2e5 and not 0.87 < len(data) / entry["size"] < 1.15:
        resources = max(1, round(resources * entry["size"] / len(data)))
        data = render(entry, seed, resources, fanout)
    if broken == "truncated-json":
        data = orjson.dumps(orjson.loads(data) if suffix == ".json" else yaml.load(data, Loader=yaml.CSafeLoader),
                            option=orjson.OPT_NON_STR_KEYS)
        path = path.with_suffix(".json")
        return _write(path, data[: len(data) // 2], "broken:truncated-json")
    if broken == "invalid-yaml":
        path = path.with_suffix(".yaml")
        text = dump_yaml(yaml.load(data, Loader=yaml.CSafeLoader) if suffix == ".yaml" else orjson.loads(data))
        lines = text.split(b"\n")
        cut = len(lines) // 2
        lines.insert(cut, b"  broken: [unclosed, {mapping: here\n\tpaths: - tab indented")
        return _write(path, b"\n".join(lines), "broken:invalid-yaml")
    return _write(path, data, kind)


def _write(path: Path, data: bytes, kind: str) -> tuple[str, int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():  # a name clash between providers: keep both
        path = path.with_name(f"{path.stem}_{abs(hash(data)) % 10000}{path.suffix}")
    path.write_bytes(data)
    return str(path), len(data), kind


# -- hostile files ------------------------------------------------------------------------------

PLACEHOLDER_HOSTS = ["http://[domain]:8080", "https://[your-host]/api/v1", "http://[::1", "http://{host}:[port]/v2"]


def hostile_files(out_dir: Path, count: int, seed: int, yaml_mb: float) -> list[tuple[str, int, str]]:
    """Write ``hostile/`` (see the module docstring); returns (path, size, kind) per file."""
    rng = random.Random(f"hostile:{seed}")
    folder = out_dir / "hostile"
    (folder / "toolbench" / "Data").mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, int, str]] = []

    def spec(index: int, **extra: Any) -> dict[str, Any]:
        name, host, category = provider_identity(seed, 10_000_000 + index)
        builder = SpecBuilder(rng, swagger=False, resources=rng.randint(1, 4), wordiness=0.3, int_codes=False)
        doc = builder.document(name, host, category, "1.0.0")
        doc.update(extra)
        return doc

    for index in range(count):
        doc = spec(index, servers=[{"url": PLACEHOLDER_HOSTS[index % len(PLACEHOLDER_HOSTS)]}])
        written.append(_write(folder / f"placeholder_host_{index}.json", orjson.dumps(doc), "hostile:placeholder-host"))
        apis = [{"name": f"{rng.choice(NOUNS)}_{i}", "method": rng.choice(["GET", "POST"]), "description": sentence(rng)}
                for i in range(rng.randint(3, 12))]
        tool = {"tool_name": f"Query Tool {index}", "tool_description": sentence(rng), "api_list": apis}
        written.append(_write(folder / "toolbench" / "Data" / f"query_tool_{index}.json", orjson.dumps(tool), "hostile:no-urls"))
        dotted = spec(count + index)
        secret = f".secret_{index}.yaml"
        (folder / secret).write_text("Token: {type: string, description: sk-live-not-for-the-catalog}\n")
        for operation in _operations(dotted):
            operation.setdefault("parameters", []).append({"name": "token", "in": "query", "schema": {"$ref": f"{secret}#/Token"}})
        written.append(_write(folder / f"dotfile_ref_{index}.json", orjson.dumps(dotted), "hostile:dotfile-ref"))
        odd = spec(2 * count + index)
        odd["info"]["title"] = rng.choice([12345, 3.5, ["a", "list"], {"a": "map"}, None, True])
        for operation in _operations(odd):
            operation["summary"] = rng.choice([2**70, float("nan"), ["x"], {"y": 1}])
            operation["tags"] = rng.choice(["not-a-list", 7, [None, 3, {"a": 1}]])
        written.append(_write(folder / f"odd_types_{index}.yaml", dump_yaml(odd), "hostile:odd-types"))
    specials = {
        "named_pipe.yaml": lambda path: os.mkfifo(path),
        "endless.yaml": lambda path: path.symlink_to("/dev/zero"),
        "loop.yaml": lambda path: path.symlink_to(path),
        "dangling.json": lambda path: path.symlink_to(folder / "no-such-file.json"),
    }
    for name, make in specials.items():
        path = folder / name
        if not os.path.lexists(path):
            make(path)
        written.append((str(path), 0, f"hostile:{name.split('.')[0]}"))
    if yaml_mb > 0:
        lines = ["openapi: 3.0.0", "info: {title: Many small nodes, version: '1'}", "paths: {}", "x-nodes:"]
        row = "  - [" + ", ".join(["0"] * 50) + "]"
        lines.extend([row] * max(1, int(yaml_mb * 1024 * 1024 / (len(row) + 1))))
        written.append(_write(folder / "many_small_nodes.yaml", ("\n".join(lines) + "\n").encode(), "hostile:many-small-nodes"))
    return written


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    methods = ("get", "put", "post", "delete", "patch")
    return [op for item in doc["paths"].values() for method, op in item.items() if method in methods]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--total-mb", type=float, default=150.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="generator processes")
    parser.add_argument("--ref-fanout", type=float, default=1.0,
                        help="how densely schemas reference each other (1 = typical, 3 = Stripe-like)")
    parser.add_argument("--force", action="store_true", help="delete OUT_DIR first if it exists")
    parser.add_argument("--hostile", type=int, default=0, metavar="N",
                        help="also write hostile/: about N files of each failure class (see above)")
    parser.add_argument("--hostile-yaml-mb", type=float, default=49.0,
                        help="size of the many-small-nodes YAML in hostile/ (0: none)")
    args = parser.parse_args(argv)

    if args.out_dir.exists() and any(args.out_dir.iterdir()):
        if not args.force:
            parser.error(f"{args.out_dir} is not empty (use --force to replace it)")
        shutil.rmtree(args.out_dir)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    entries = plan(args.count, args.seed, int(args.total_mb * 1024 * 1024))
    # biggest first so the pool is not left waiting on one 10 MB file at the end
    work = sorted(entries, key=lambda e: -e["size"])
    jobs = [(e, args.seed, str(args.out_dir), args.ref_fanout) for e in work]
    results: list[tuple[str, int, str]] = []
    if args.jobs <= 1:
        results = [generate_one(j) for j in jobs]
    else:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            results = list(pool.imap_unordered(generate_one, jobs, chunksize=1))
    if args.hostile:
        results.extend(hostile_files(args.out_dir, args.hostile, args.seed, args.hostile_yaml_mb))
    # name clashes are resolved by whichever worker got there first; fine for a benchmark,
    # but keep the listing deterministic
    results.sort()
    seconds = time.perf_counter() - started

    total = sum(size for _, size, _ in results)
    by_kind: dict[str, list[int]] = {}
    for _, size, kind in results:
        by_kind.setdefault(kind, []).append(size)
    sizes = sorted(size for _, size, _ in results)
    print(f"files               {len(results)}")
    print(f"total MB            {total / 2**20:.1f}")
    print(f"generate seconds    {seconds:.1f}")
    for kind in sorted(by_kind):
        values = by_kind[kind]
        print(f"  {kind:<22} {len(values):5d} files {sum(values) / 2**20:8.1f} MB")
    q = lambda p: sizes[min(len(sizes) - 1, int(p * len(sizes)))] / 1024  # noqa: E731
    print(f"size KB p10/p50/p90/p99/max  {q(.1):.0f} / {q(.5):.0f} / {q(.9):.0f} / {q(.99):.0f} / {sizes[-1] / 1024:.0f}")
    print(f"files >= 1 MB       {sum(s >= 2**20 for s in sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
