"""OpenAPI 3.0 / 3.1 and Swagger 2.0 documents → one catalog :class:`~pipeline.models.Tool`.

One spec file is one tool; each operation is one API. The reader is forgiving the way
real-world specs need: missing fields get defaults, a broken ``$ref`` or malformed operation
costs that operation (with a warning), not the whole spec.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.models import (
    AUTH_LOCATIONS,
    PARAM_LOCATIONS,
    Api,
    Auth,
    AuthLocation,
    Param,
    ParamLocation,
    SourceFormat,
    SourceRef,
    Tool,
    ToolCategoryOrigin,
)
from pipeline.specs.isolation import SourceRejected
from pipeline.specs.refs import Doc, RefError, RefResolver
from pipeline.specs.schemas import (
    Budget,
    SchemaExpander,
    bounded_copy,
    choice_of,
    instance_or,
    template_from_schema,
    text_of,
    toolbench_type,
)
from pipeline.specs.taxonomy import LabelOrigin, TaxonomyLookup

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_FORM_MEDIA = ("multipart/form-data", "application/x-www-form-urlencoded")
_JSON_MEDIA = re.compile(r"(^|/|\+)json\b|^\*/\*$|^application/\*$", re.IGNORECASE)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class NotASpec(SourceRejected):
    """The document is not something this reader understands; the message says what it is."""


@dataclass
class ReadOptions:
    """The knobs of a spec read, copied from :class:`pipeline.settings.CollectSettings`."""

    max_ref_hops: int = 64
    max_schema_depth: int = 6
    max_schema_nodes: int = 2000
    max_description_chars: int = 2000
    max_file_bytes: int = 50 * 1024 * 1024
    category_precedence: tuple[str, ...] = ("x-apisguru-categories", "tags", "folder")
    taxonomy: TaxonomyLookup | None = None
    """Map declared labels onto this taxonomy; ``None`` keeps the first label as it is written."""
    max_reader_memory_mb: int | None = 2048
    """Memory each reader process may take beyond what it holds when it starts (its imports); a
    source that needs more is recorded as too large to parse (a 49 MB YAML of small nodes takes
    over 6 GB). ``None``: no cap. Never applied to the main process (``workers = 0`` reads
    there, uncapped)."""


@dataclass
class ReadContext:
    """What the reader knows about a document besides its content."""

    source: SourceRef
    folder_category: str | None = None
    index_categories: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def spec_format(doc: Any) -> SourceFormat | None:
    """``openapi-3.x`` / ``swagger-2.0`` for an OpenAPI document, else ``None``."""
    if not isinstance(doc, dict):
        return None
    openapi = doc.get("openapi")
    if isinstance(openapi, float):  # unquoted "openapi: 3.0" in YAML, like "swagger: 2.0" below
        openapi = str(openapi)
    if isinstance(openapi, str) and openapi.startswith("3."):
        return "openapi-3.1" if openapi.startswith("3.1") else "openapi-3.0"
    swagger = doc.get("swagger")
    if isinstance(swagger, (str, int, float)) and str(swagger).startswith("2"):
        return "swagger-2.0"
    return None


def read_openapi(doc: Any, context: ReadContext, resolver: RefResolver, options: ReadOptions) -> Tool:
    """Normalise an OpenAPI or Swagger document into a tool with one API per operation."""
    version = spec_format(doc)
    if version is None:
        raise NotASpec("not an OpenAPI 3.x or Swagger 2.0 document (no 'openapi'/'swagger' field)")
    context.source.format = version
    reader = _OperationReader(doc, version, context, resolver, options)
    info = instance_or(doc.get("info"), dict, {})
    title = text_of(info.get("title"), 200) or _stem(context.source.location)
    description = text_of(info.get("description") or info.get("summary"), options.max_description_chars)
    apis = reader.read_all()
    label: str | None = None
    if options.taxonomy is None:
        category, origin = _category(doc, info, apis, context, options.category_precedence)
    else:
        placed = options.taxonomy.place(_declared_labels(doc, info, apis, context, options.category_precedence))
        # nothing declared maps: the collector places the tool by its text (origin "default")
        category, origin, label = placed or (options.taxonomy.fallback, "default", None)
    return Tool(
        tool_name=title,
        title=title,
        tool_description=description or title,
        category=category,
        category_origin=origin,
        category_label=label,
        tags=_tag_names(doc, apis),
        base_url=reader.base_url,
        version=text_of(info.get("version"), 100),
        auth=reader.auth_schemes(),
        source=context.source,
        api_list=apis,
    )


class _OperationReader:
    def __init__(
        self,
        doc: dict[str, Any],
        version: SourceFormat,
        context: ReadContext,
        resolver: RefResolver,
        options: ReadOptions,
    ) -> None:
        self.doc = doc
        self.swagger = version == "swagger-2.0"
        self.context = context
        self.resolver = resolver
        self.options = options
        self.main = resolver.main
        self.expander = SchemaExpander(
            resolver,
            max_depth=options.max_schema_depth,
            max_description_chars=options.max_description_chars,
            warnings=context.warnings,
        )
        self.base_url = self._base_url()
        self._used_security: set[str] = set()
        self._templates: dict[tuple[int, int], tuple[Any, Any]] = {}  # shared by all operations

    # -- the document level -------------------------------------------------------------

    def _base_url(self) -> str:
        origin = self.context.source.location if self.context.source.kind == "url" else ""
        if self.swagger:
            host = self.doc.get("host")
            base_path = instance_or(self.doc.get("basePath"), str, "")
            schemes = instance_or(self.doc.get("schemes"), list, [])
            scheme = "https" if "https" in schemes or not schemes else text_of(schemes[0], 20)
            if isinstance(host, str) and host:
                return f"{scheme}://{host}{base_path}".rstrip("/")
            if origin:
                parts = urlsplit(origin)
                return f"{parts.scheme}://{parts.netloc}{base_path}".rstrip("/")
            return base_path.rstrip("/")
        servers = self.doc.get("servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
            return urljoin(origin, "/").rstrip("/") if origin else ""
        url = servers[0].get("url")
        if not isinstance(url, str):
            return ""
        variables = servers[0].get("variables")
        if isinstance(variables, dict):
            for name, spec in variables.items():
                if isinstance(spec, dict) and spec.get("default") is not None:
                    url = url.replace("{" + str(name) + "}", text_of(spec["default"], 200))
        if origin and not _SCHEME.match(url):
            url = _join(origin, url)
        return url.rstrip("/")

    def auth_schemes(self) -> list[Auth]:
        if self.swagger:
            schemes = self.doc.get("securityDefinitions")
        else:
            components = self.doc.get("components")
            schemes = components.get("securitySchemes") if isinstance(components, dict) else None
        if not isinstance(schemes, dict):
            return []
        wanted = self._used_security | _security_names(self.doc.get("security"))
        result = []
        for name, raw in schemes.items():
            try:
                spec, _, _ = self.resolver.deref(raw, self.main)
            except RefError as error:
                self.context.warnings.append(f"security scheme {name}: {error}")
                continue
            if not isinstance(spec, dict) or (wanted and name not in wanted):
                continue
            result.append(_auth(str(name), spec))
        return result

    # -- operations ---------------------------------------------------------------------

    def read_all(self) -> list[Api]:
        paths = self.doc.get("paths")
        if not isinstance(paths, dict):
            self.context.warnings.append("document has no 'paths' object")
            return []
        apis: list[Api] = []
        for path, raw_item in paths.items():
            path = str(path)
            try:
                item, item_doc, _ = self.resolver.deref(raw_item, self.main)
            except RefError as error:
                self.context.warnings.append(f"path {path}: {error}")
                continue
            if not isinstance(item, dict):
                continue
            shared = instance_or(item.get("parameters"), list, [])
            for method in HTTP_METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict):
                    continue
                try:
                    apis.append(self._operation(path, method, operation, shared, item_doc))
                except (RefError, ValueError, TypeError, AttributeError) as error:
                    self.context.warnings.append(f"{method.upper()} {path}: skipped ({error})")
        return apis

    def _operation(
        self, path: str, method: str, op: dict[str, Any], shared: list[Any], doc: Doc
    ) -> Api:
        budget = Budget(self.options.max_schema_nodes)
        summary = text_of(op.get("summary"), 300)
        details = text_of(op.get("description"), self.options.max_description_chars)
        if not summary or not details or details.startswith(summary.rstrip(".")):
            # A description that opens with the summary already says it; keep the longer text.
            description = details or summary
        else:
            separator = " " if summary.endswith((".", "!", "?")) else ". "
            description = f"{summary}{separator}{details}"
        operation_id = text_of(op.get("operationId"), 120)
        name = operation_id or (summary if 0 < len(summary) <= 80 else f"{method.upper()} {path}")
        self._used_security |= _security_names(op.get("security"))

        params, body_schema, body_type = self._parameters(op, shared, doc, budget)
        if not self.swagger and "requestBody" in op:
            body_schema, body_type, body_params = self._request_body(op["requestBody"], doc, budget)
            params.extend(body_params)
        _rename_collisions(params)
        response_schema, example, media = self._responses(op, doc, budget)
        if budget.truncated:
            self.context.warnings.append(f"{method.upper()} {path}: schemas truncated")
        tags = [text_of(t, 100) for t in op.get("tags", []) if t] if isinstance(op.get("tags"), list) else []
        return Api(
            name=name,
            url=f"{self.base_url}{path}",
            method=method.upper(),
            path=path,
            description=description,
            required_parameters=[p for p in params if p.required],
            optional_parameters=[p for p in params if not p.required],
            body_schema=body_schema,
            body_content_type=body_type,
            response_schema=response_schema,
            response_example=example,
            template_response=template_from_schema(response_schema, memo=self._templates),
            response_content_types=media,
            tags=tags,
            deprecated=op.get("deprecated") is True,
        )

    def _parameters(
        self, op: dict[str, Any], shared: list[Any], doc: Doc, budget: Budget
    ) -> tuple[list[Param], dict[str, Any] | None, str | None]:
        merged: dict[tuple[str, str], tuple[dict[str, Any], Doc]] = {}
        own = instance_or(op.get("parameters"), list, [])
        for raw in [*shared, *own]:  # operation-level parameters override path-level ones
            try:
                spec, spec_doc, _ = self.resolver.deref(raw, doc)
            except RefError as error:
                self.context.warnings.append(f"parameter: {error}")
                continue
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), (str, int)):
                continue
            merged[(str(spec["name"]), text_of(spec.get("in", "query"), 20))] = (spec, spec_doc)

        params: list[Param] = []
        body_schema: dict[str, Any] | None = None
        body_type: str | None = None
        form_fields: list[Param] = []
        for (name, where), (spec, spec_doc) in merged.items():
            if where == "body":  # Swagger 2.0 request body
                body_schema = self.expander.expand(spec.get("schema"), spec_doc, budget)
                body_type = _first_media(op.get("consumes") or self.doc.get("consumes")) or "application/json"
                params.extend(self._body_params(body_schema, spec.get("required") is True))
                continue
            location = choice_of(where, PARAM_LOCATIONS, None)
            if location is None:
                # checked before building the Param, which would refuse it and cost the operation
                self.context.warnings.append(f"parameter {name}: unknown location {where!r}, skipped")
                continue
            schema = self._parameter_schema(spec, spec_doc, budget)
            param = _param(name, location, spec, schema, self.options.max_description_chars)
            if location == "formData":
                form_fields.append(param)
            else:
                params.append(param)
        if form_fields:
            # Form fields go as a form even when the document's default media type is JSON.
            declared = op.get("consumes") or self.doc.get("consumes")
            forms = [m for m in declared if m in _FORM_MEDIA] if isinstance(declared, list) else []
            body_type = forms[0] if forms else "application/x-www-form-urlencoded"
            body_schema = {
                "type": "object",
                "properties": {p.name: p.schema_ for p in form_fields},
                "required": [p.name for p in form_fields if p.required],
            }
            params.extend(form_fields)
        return params, body_schema, body_type

    def _parameter_schema(self, spec: dict[str, Any], doc: Doc, budget: Budget) -> dict[str, Any]:
        if isinstance(spec.get("schema"), dict):
            return self.expander.expand(spec["schema"], doc, budget)
        content = spec.get("content")
        if isinstance(content, dict):
            for media in content.values():
                if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                    return self.expander.expand(media["schema"], doc, budget)
        # Swagger 2.0 keeps the schema keywords on the parameter itself.
        inline = {k: v for k, v in spec.items() if k not in ("name", "in", "required", "description")}
        return self.expander.expand(inline, doc, budget)

    def _request_body(
        self, raw: Any, doc: Doc, budget: Budget
    ) -> tuple[dict[str, Any] | None, str | None, list[Param]]:
        body, body_doc, _ = self.resolver.deref(raw, doc)
        if not isinstance(body, dict):
            return None, None, []
        media_type, media = _pick_media(body.get("content"))
        if media is None:
            return None, media_type, []
        schema = self.expander.expand(media.get("schema"), body_doc, budget)
        example = media.get("example")
        if example is not None and "example" not in schema:
            schema["example"] = bounded_copy(example)
        return schema, media_type, self._body_params(schema, body.get("required") is True)

    def _body_params(self, schema: dict[str, Any], body_required: bool) -> list[Param]:
        """Flatten a JSON body's top-level properties into parameters a model can fill."""
        properties = schema.get("properties")
        if not isinstance(properties, dict) or not properties:
            if not schema:
                return []
            return [_param("body", "body", {"required": body_required}, schema, self.options.max_description_chars)]
        required = set(schema.get("required", [])) if body_required else set()
        example = instance_or(schema.get("example"), dict, {})
        params = []
        for name, sub in properties.items():
            if sub.get("readOnly") is True:
                continue
            spec = {"required": name in required}
            if name in example:
                spec["example"] = example[name]
            params.append(_param(name, "body", spec, sub, self.options.max_description_chars))
        return params

    def _responses(self, op: dict[str, Any], doc: Doc, budget: Budget) -> tuple[dict[str, Any] | None, Any, list[str]]:
        responses = op.get("responses")
        if not isinstance(responses, dict):
            return None, None, []
        success = sorted(  # by code only: YAML can hold both 200 and "200", whose values don't order
            ((str(code), value) for code, value in responses.items() if str(code).startswith("2")),
            key=lambda pair: pair[0],
        )
        chosen = success or [(str(c), v) for c, v in responses.items() if str(c) == "default"]
        media_types: list[str] = []
        schema: dict[str, Any] | None = None
        example: Any = None
        for _, raw in chosen:
            try:
                response, response_doc, _ = self.resolver.deref(raw, doc)
            except RefError as error:
                self.context.warnings.append(f"response: {error}")
                continue
            if not isinstance(response, dict):
                continue
            if self.swagger:
                produces = op.get("produces") or self.doc.get("produces")
                declared = [text_of(m, 200) for m in produces] if isinstance(produces, list) else []
                media_types.extend(m for m in declared if m not in media_types)
                if schema is None and isinstance(response.get("schema"), dict):
                    schema = self.expander.expand(response["schema"], response_doc, budget)
                examples = response.get("examples")
                if example is None and isinstance(examples, dict) and examples:
                    example = bounded_copy(next(iter(examples.values())))
                continue
            content = response.get("content")
            if isinstance(content, dict):
                media_types.extend(str(m) for m in content if str(m) not in media_types)
            media_type, media = _pick_media(content)
            if media is not None and schema is None and isinstance(media.get("schema"), dict):
                schema = self.expander.expand(media["schema"], response_doc, budget)
            if media is not None and example is None:
                example = _media_example(media)
        return schema, example, media_types


def _param(
    name: str, location: ParamLocation, spec: dict[str, Any], schema: dict[str, Any], max_chars: int
) -> Param:
    description = text_of(spec.get("description"), max_chars) or schema.get("description", "")
    example = spec.get("example", spec.get("x-example"))
    if example is None and isinstance(spec.get("examples"), dict):
        first = next(iter(spec["examples"].values()), None)
        example = first.get("value") if isinstance(first, dict) else first
    if example is None:
        example = schema.get("example")
    default = schema.get("default", spec.get("default", ""))
    return Param(
        name=name,
        type=toolbench_type(schema),
        description=description,
        default=bounded_copy(default) if default is not None else "",
        location=location,
        required=location == "path" or spec.get("required") is True,
        enum=schema.get("enum"),
        example=bounded_copy(example),
        schema_=schema,
    )


def _rename_collisions(params: list[Param]) -> None:
    """A body field named like a query parameter would make two arguments one; rename it."""
    seen: set[str] = set()
    for param in params:
        if param.name in seen and param.location == "body":
            param.name = f"body_{param.name}"
        seen.add(param.name)


def _pick_media(content: Any) -> tuple[str | None, dict[str, Any] | None]:
    """The JSON media type of a content map if it has one, else the first one."""
    if not isinstance(content, dict) or not content:
        return None, None
    for media_type, media in content.items():
        if _JSON_MEDIA.search(str(media_type)) and isinstance(media, dict):
            return str(media_type), media
    media_type, media = next(iter(content.items()))
    return str(media_type), media if isinstance(media, dict) else None


def _media_example(media: dict[str, Any]) -> Any:
    if "example" in media:
        return bounded_copy(media["example"])
    examples = media.get("examples")
    if isinstance(examples, dict) and examples:
        first = next(iter(examples.values()))
        return bounded_copy(first.get("value") if isinstance(first, dict) else first)
    return None


def _first_media(values: Any) -> str | None:
    if not isinstance(values, list) or not values:
        return None
    return text_of(values[0], 200) or None


def is_json_media(media_type: str) -> bool:
    return bool(_JSON_MEDIA.search(media_type.split(";")[0].strip()))


def _security_names(requirements: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(requirements, list):
        for requirement in requirements:
            if isinstance(requirement, dict):
                names.update(str(name) for name in requirement)
    return names


def _auth(name: str, spec: dict[str, Any]) -> Auth:
    kind = spec.get("type")
    if kind == "apiKey":
        location: AuthLocation = choice_of(spec.get("in"), AUTH_LOCATIONS, "header")
        return Auth(name=name, kind="apiKey", location=location, parameter=text_of(spec.get("name"), 200))
    if kind == "http":
        return Auth(name=name, kind="http", location="header", scheme=text_of(spec.get("scheme"), 50).lower())
    if kind == "basic":  # Swagger 2.0
        return Auth(name=name, kind="http", location="header", scheme="basic")
    if kind == "oauth2":
        return Auth(name=name, kind="oauth2", location="header", scheme="bearer")
    if kind == "openIdConnect":
        return Auth(name=name, kind="openIdConnect", location="header", scheme="bearer")
    return Auth(name=name)


def _category(
    doc: dict[str, Any],
    info: dict[str, Any],
    apis: list[Api],
    context: ReadContext,
    precedence: tuple[str, ...],
) -> tuple[str, ToolCategoryOrigin]:
    for origin in precedence:
        if origin == "x-apisguru-categories":
            declared = info.get("x-apisguru-categories") or doc.get("x-apisguru-categories")
            if isinstance(declared, list) and declared and text_of(declared[0], 100):
                return _category_label(text_of(declared[0], 100)), "x-apisguru-categories"
            if context.index_categories:
                return _category_label(context.index_categories[0]), "index"
        elif origin == "tags":
            tags = doc.get("tags")
            if isinstance(tags, list):
                for tag in tags:
                    label = text_of(tag.get("name") if isinstance(tag, dict) else tag, 100)
                    if label:
                        return _category_label(label), "tags"
            counted = Counter(tag for api in apis for tag in api.tags if tag)
            if counted:
                return _category_label(counted.most_common(1)[0][0]), "tags"
        elif origin == "folder" and context.folder_category:
            return _category_label(context.folder_category), "folder"
    return "Uncategorized", "default"


def _declared_labels(
    doc: dict[str, Any],
    info: dict[str, Any],
    apis: list[Api],
    context: ReadContext,
    precedence: tuple[str, ...],
) -> list[tuple[LabelOrigin, str]]:
    """Every category label the document and its context declare, most trusted first.

    ``info.x-category`` (and ``x-categories``) count with APIs.guru's categories: a spec that
    names its category means it as one, unlike its operation tags.
    """
    labels: list[tuple[LabelOrigin, str]] = []
    for origin in precedence:
        if origin == "x-apisguru-categories":
            declared = info.get("x-apisguru-categories") or doc.get("x-apisguru-categories")
            for value in declared if isinstance(declared, list) else []:
                labels.append(("x-apisguru-categories", text_of(value, 100)))
            labels.extend(("index", text_of(value, 100)) for value in context.index_categories)
            for key in ("x-category", "x-categories"):
                value = info.get(key, doc.get(key))
                for item in value if isinstance(value, list) else [value]:
                    labels.append(("x-category", text_of(item, 100)))
        elif origin == "tags":
            labels.extend(("tags", tag) for tag in _tag_names(doc, apis))
        elif origin == "folder" and context.folder_category:
            labels.append(("folder", context.folder_category))
    return [(origin, label) for origin, label in labels if label]


MAX_TAGS = 30


def _tag_names(doc: dict[str, Any], apis: list[Api]) -> list[str]:
    """The document's tags in order, then its operations' tags by use; at most ``MAX_TAGS``."""
    names: list[str] = []
    tags = doc.get("tags")
    for tag in tags if isinstance(tags, list) else []:
        label = text_of(tag.get("name") if isinstance(tag, dict) else tag, 100)
        if label and label not in names:
            names.append(label)
    counted = Counter(tag for api in apis for tag in api.tags if tag)
    names.extend(tag for tag, _ in counted.most_common() if tag not in names)
    return names[:MAX_TAGS]


def _category_label(raw: str) -> str:
    """APIs.guru writes categories like ``developer_tools``; show them as ``Developer Tools``."""
    label = raw.strip()
    if label.islower() and " " not in label:
        label = label.replace("_", " ").replace("-", " ").title()
    return label


def _join(origin: str, url: str) -> str:
    """``url`` resolved against ``origin``; as written when it does not parse (a placeholder
    host such as ``//[cdn]/api``): the spec says what it says, and the catalog keeps it."""
    try:
        return urljoin(origin, url)
    except ValueError:
        return url


def _stem(location: str) -> str:
    last = location.rstrip("/").rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[0] or location
