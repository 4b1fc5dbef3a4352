"""Retriever training: pairs, split, hard negatives, fine-tuning, the saved model and its record.

The embedding model (all-MiniLM-L6-v2 from its PyPI package) is loaded once per module and each
training gets a copy. The learnable set: 20 APIs with made-up names, and instructions that
name their API only by a made-up code word that no document contains, so the base model ranks
them at random and only training can tie the word to its API; held-out instructions use the
same words in other sentences.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.errors import ConfigError, NothingToDo
from pipeline.export.common import split_of
from pipeline.io import write_jsonl
from pipeline.models import Api, SourceRef, Tool
from pipeline.records import QueryRecord
from pipeline.retriever import training
from pipeline.retriever.documents import ApiDocument, document_text
from pipeline.retriever.embedder import load_embedder
from pipeline.retriever.negatives import Candidates, excluded_positions, mine_negatives, pick_negatives
from pipeline.retriever.pairs import Corpus, TrainingQuery, load_training_data
from pipeline.retriever.train_cli import register_train_command
from pipeline.retriever.training import TrainingReport, model_dir, read_training_report, train_retriever
from pipeline.settings import Settings, load_settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "retriever"

TOOL_NAMES = ["Quorvex", "Blintaro", "Sprindle", "Zephmor", "Klavitch"]
API_WORDS = ["drelm", "fosk", "grubbin", "hyssel", "jantor", "kerfle", "lumbrix", "morsk", "nivvel", "oprane",
             "pluxom", "quillet", "rostvar", "sammel", "trevik", "uldren", "vompa", "wexil", "yarrin", "zolt"]
CODE_WORDS = ["flarnish", "brozzle", "clempt", "dwindor", "ekkorn", "frazzit", "glomber", "hathex", "ivrolt",
              "jubbak", "kweeze", "larnop", "mizzard", "nubbet", "orkle", "pazzium", "quenth", "ribbock",
              "snorvel", "tazzle"]
TEMPLATES = ["Please {} for me today.", "Could you {} right away?", "I need to {} before the meeting.",
             "Help me {} quickly.", "Can you {}, please?", "My boss asked me to {}.", "Time to {} again.",
             "Is it possible to {} now?"]


# --- a synthetic run -----------------------------------------------------------------------------


def _tools() -> list[Tool]:
    tools = []
    for number, tool_name in enumerate(TOOL_NAMES):
        apis = [Api(name=word, id=word, description=f"Returns the {word} ledger entries.")
                for word in API_WORDS[number * 4:(number + 1) * 4]]
        tools.append(Tool(id=tool_name.lower(), tool_name=tool_name, category="Misc", api_list=apis,
                          source=SourceRef(kind="file", location=f"{tool_name}.json", format="toolbench")))
    return tools


def _api_of(index: int) -> tuple[Tool, Api]:
    tool = _tools()[index // 4]
    return tool, tool.api_list[index % 4]


def _query(query_id: int, text: str, indexes: list[int], group: str) -> dict[str, Any]:
    apis = [_api_of(index) for index in indexes]
    return QueryRecord(
        query=text, query_id=query_id, group=group,
        api_list=[{"category_name": tool.category, "tool_name": tool.tool_name, "api_name": api.name,
                   "tool_id": tool.id, "api_id": api.id} for tool, api in apis],
        relevant_apis=[(tool.tool_name, api.name) for tool, api in apis],
        relevant_api_ids=[(tool.id, api.id) for tool, api in apis],
    ).dump()


def write_run(run_dir: Path, *, templates: int = 6, with_queries: bool = True) -> Path:
    """A run folder: the catalog of 20 APIs, G1 (one API per instruction) and G2 (two)."""
    write_jsonl(run_dir / "catalog" / "tools.jsonl", [tool.dump() for tool in _tools()])
    if with_queries:
        g1 = [_query(n * 100 + t, TEMPLATES[t].format(word), [n], "G1")
              for n, word in enumerate(CODE_WORDS) for t in range(templates)]
        g2 = [_query(n, f"First {CODE_WORDS[n]}, then {CODE_WORDS[(n + 7) % 20]}.", [n, (n + 7) % 20], "G2")
              for n in range(20)]
        write_jsonl(run_dir / "queries" / "G1.jsonl", g1)
        write_jsonl(run_dir / "queries" / "G2.jsonl", g2)
    return run_dir


def make_settings(run_dir: Path, **train: Any) -> Settings:
    options = {"epochs": 3, "batch_size": 16, "learning_rate": 3e-4, "warmup_ratio": 0.0, "logging_steps": 1,
               **train}
    return load_settings(run_dir=run_dir, export={"eval_fraction": 0.25, "split_seed": 0},
                         retriever={"max_seq_length": 48, "encode_batch_size": 64, "train": options})


@pytest.fixture(scope="module")
def base_model() -> Any:
    return load_embedder("default", max_seq_length=48)


@pytest.fixture
def fresh_model(base_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training loads a copy of the module's model instead of reading it from disk again."""
    monkeypatch.setattr(training, "load_embedder", lambda *args, **kwargs: copy.deepcopy(base_model))


# --- pairs and split -----------------------------------------------------------------------------


def test_pairs_from_the_run_queries_one_per_relevant_api_split_by_the_exports_rule(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    settings = make_settings(run)
    data = load_training_data(settings, _tools())

    assert len(data.corpus) == 20 and data.corpus.from_records == 0
    assert len(data.queries) == 20 * 6 + 20
    assert {query.group for query in data.queries} == {"G1", "G2"}
    for query in data.queries:
        assert query.split == split_of(query.text, eval_fraction=0.25, seed=0)
        expected = [CODE_WORDS.index(word) for word in CODE_WORDS if word in query.text]
        assert sorted(query.relevant) == sorted(expected)  # catalog order = the index of the API
    assert data.pair_count("train") + data.pair_count("eval") == 20 * 6 + 20 * 2
    assert data.split("train") and data.split("eval")
    by_group = data.pairs_by_group()
    assert sum(counts["train"] + counts["eval"] for counts in by_group.values()) == 160


def test_pairs_from_a_toolbench_query_file_without_a_catalog(tmp_path: Path) -> None:
    source = json.loads((FIXTURES / "G1_query.json").read_text())
    settings = make_settings(tmp_path / "run")
    data = load_training_data(settings, [], queries=[FIXTURES / "G1_query.json"], include_run=False)

    assert len(data.queries) == len(source)
    assert sum(len(query.relevant) for query in data.queries) == sum(len(item["relevant APIs"]) for item in source)
    records = {(entry["tool_name"], entry["api_name"]): entry for item in source for entry in item["api_list"]}
    assert data.corpus.from_records == len(data.corpus) == len(records)
    for query, item in zip(data.queries, source, strict=True):
        assert query.text == item["query"].strip() and query.group == "G1_query"
        texts = [data.corpus.documents[position].text for position in query.relevant]
        # the document of an API missing from the catalog is its api_list record's, as indexed
        assert texts == [document_text(records[(tool, api)]) for tool, api in item["relevant APIs"]]


def test_a_toolbench_query_file_uses_the_catalog_document_when_the_api_is_collected(tmp_path: Path) -> None:
    squake = Tool(id="squake", tool_name="SQUAKE", category="Logistics",
                  source=SourceRef(kind="file", location="s.json", format="toolbench"),
                  api_list=[Api(name="Checkhealth", id="checkhealth", description="Is SQUAKE up?")])
    settings = make_settings(tmp_path / "run")
    data = load_training_data(settings, [squake], queries=[FIXTURES / "G1_query.json"], include_run=False)
    first = data.queries[0]  # SQUAKE Checkhealth + Projects
    assert first.relevant[0] == 0  # the catalog's document, not a second one from the record
    assert data.corpus.documents[0].api_id == "checkhealth"
    assert data.corpus.documents[first.relevant[1]].api_name == "Projects"


# --- hard negatives ------------------------------------------------------------------------------


@st.composite
def _negative_cases(draw: st.DrawFn) -> tuple[int, set[int], list[Candidates], int]:
    size = draw(st.integers(min_value=1, max_value=40))
    relevant = draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=min(size, 5)))
    candidates = [Candidates(source, draw(st.lists(st.integers(-2, size + 2), max_size=30)),
                             draw(st.integers(0, 6))) for source in ("siblings", "bm25", "dense")]
    count = draw(st.integers(0, size - len(relevant)))
    return size, relevant, candidates, count


@given(_negative_cases(), st.integers(0, 2**32))
def test_picked_negatives_are_never_relevant_distinct_and_as_many_as_asked(
    case: tuple[int, set[int], list[Candidates], int], seed: int
) -> None:
    size, relevant, candidates, count = case
    picked = pick_negatives(relevant, candidates, count, size, random.Random(seed))
    positions = [position for position, _ in picked]
    assert not set(positions) & relevant
    assert len(positions) == len(set(positions)) == count
    assert all(0 <= position < size for position in positions)


def _document(tool: str, api: str, text: str) -> ApiDocument:
    return ApiDocument(tool_id=tool, api_id=api, tool_name=tool, api_name=api, category="c", text=text)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mined_negatives_never_hold_a_relevant_api_nor_a_copy_of_one(data: st.DataObject) -> None:
    corpus = Corpus()
    words = ["ledger", "weather", "flight", "hotel", "stock", "movie", "recipe", "city"]
    for number in range(data.draw(st.integers(3, 16))):
        word = words[number % len(words)]
        corpus._add(_document(f"tool{number % 3}", f"api{number}", f"{word} api{number % 5} of tool{number % 3}"))
    queries = []
    for number in range(data.draw(st.integers(1, 6))):
        relevant = data.draw(st.lists(st.integers(0, len(corpus) - 1), min_size=1, max_size=3, unique=True))
        queries.append(TrainingQuery(qid=f"q{number}", group="G1", text=data.draw(st.sampled_from(words)) + " please",
                                     relevant=tuple(relevant), split="train"))
    quotas = {source: data.draw(st.integers(0, 3)) for source in ("bm25", "siblings", "dense")}
    mined = mine_negatives(queries, corpus, quotas=quotas, model=None, seed=0)
    for query in queries:
        negatives = mined.by_query[query.qid]
        relevant_texts = {corpus.documents[position].text for position in query.relevant}
        assert not set(negatives) & set(query.relevant)
        assert not {corpus.documents[position].text for position in negatives} & relevant_texts
        assert len(negatives) == len(set(negatives)) == mined.per_pair
        assert mined.per_pair <= len(corpus) - len(excluded_positions(query.relevant, corpus))


def test_each_source_gives_its_quota() -> None:
    tools = _tools()
    corpus = Corpus(tools)
    query = TrainingQuery(qid="q", group="G1", text="Returns the fosk ledger entries", relevant=(0,), split="train")
    mined = mine_negatives([query], corpus, quotas={"siblings": 1, "bm25": 1, "dense": 0}, model=None, seed=0)
    first, second = mined.by_query["q"]
    assert corpus.documents[first].tool_id == corpus.documents[0].tool_id  # a sibling of API 0
    assert second not in {0, first}
    assert mined.per_pair == 2 and mined.by_source == {"siblings": 1, "bm25": 1, "dense": 0, "random": 0}


# --- training ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, base_model: Any) -> tuple[Path, TrainingReport]:
    """One training on the learnable set (12 steps), shared by the assertions below."""
    run = write_run(tmp_path_factory.mktemp("trained") / "run", templates=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "load_embedder", lambda *args, **kwargs: copy.deepcopy(base_model))
        # one hard negative (a sibling) keeps a step at three short texts per pair
        report = train_retriever(make_settings(run, epochs=2, bm25_negatives=0, dense_negatives=0,
                                               sibling_negatives=1))
    return run, report


@pytest.mark.training
@pytest.mark.timeout(900)  # the shared training; a loaded machine slows it several times
def test_training_lowers_the_loss_and_raises_held_out_ndcg(trained: tuple[Path, TrainingReport]) -> None:
    _, report = trained
    losses = [point.loss for point in report.training_loss]
    assert len(losses) >= 4
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2
    assert report.metrics_before is not None and report.metrics_after is not None
    assert report.metrics_after.ndcg_at_5 > report.metrics_before.ndcg_at_5 + 0.1
    assert report.metrics_after.ndcg_at_1 > report.metrics_before.ndcg_at_1
    assert len(report.eval_per_epoch) == 2  # scored after each epoch


@pytest.mark.training
@pytest.mark.timeout(900)  # the shared training; a loaded machine slows it several times
def test_the_saved_model_loads_and_its_record_validates(trained: tuple[Path, TrainingReport]) -> None:
    run, report = trained
    folder = model_dir(run)
    model = load_embedder(str(folder), max_seq_length=None)  # as saved
    assert model.get_embedding_dimension() == 384
    assert model.max_seq_length == 48
    assert read_training_report(run) == report
    assert TrainingReport.model_validate_json((folder / "training.json").read_bytes()) == report
    assert report.pairs == {"train": report.pairs["train"], "eval": report.pairs["eval"]}
    assert report.pairs["train"] + report.pairs["eval"] == 20 * 4 + 20 * 2
    assert report.negatives_per_pair == 1 and report.loss == "MultipleNegativesRankingLoss"
    card = (folder / "README.md").read_text()
    assert "## toolgen training" in card and "| ndcg@1 |" in card
    assert not [entry.name for entry in folder.parent.iterdir() if entry.name.startswith(".model")]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_failed_training_keeps_the_previous_model_and_leaves_no_partial_one(
    tmp_path: Path, fresh_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(tmp_path / "run", templates=2)
    previous = model_dir(run)
    previous.mkdir(parents=True)
    (previous / "marker").write_text("the previous model")
    killed = previous.parent / f".model.partial-{_dead_pid()}"  # what a killed training leaves
    killed.mkdir()
    (killed / "model.safetensors").write_bytes(b"half")

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed mid-training")

    monkeypatch.setattr(training, "_fit", crash)
    with pytest.raises(RuntimeError, match="killed mid-training"):
        train_retriever(make_settings(run, epochs=1, dense_negatives=0, sibling_negatives=0, evaluate=False))
    assert (previous / "marker").read_text() == "the previous model"
    assert sorted(entry.name for entry in previous.parent.iterdir()) == ["model"]


def test_no_queries_is_nothing_to_do(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", with_queries=False)
    with pytest.raises(NothingToDo, match="no instruction with a relevant API"):
        train_retriever(make_settings(run))


@pytest.mark.parametrize(("options", "message"), [
    ({"loss": "cached_mnrl", "batch_size": 8, "mini_batch_size": 16}, "mini_batch_size"),
    ({"bm25_negatives": 40, "dense_negatives": 40}, "at most 64"),
])
def test_bad_settings_are_config_errors(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    run = write_run(tmp_path / "run", templates=1)
    with pytest.raises(ConfigError, match=message):
        train_retriever(make_settings(run, **options))


def test_a_missing_query_file_is_a_config_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", templates=1)
    with pytest.raises(ConfigError, match="no such file"):
        train_retriever(make_settings(run), queries=[tmp_path / "missing.json"])


def test_the_cached_loss_is_chosen_by_the_setting(base_model: Any) -> None:
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    options = make_settings(Path("unused"), loss="cached_mnrl", mini_batch_size=4).retriever.train
    loss = training._loss(base_model, options)
    assert isinstance(loss, CachedMultipleNegativesRankingLoss) and loss.mini_batch_size == 4


# --- the command ---------------------------------------------------------------------------------


def test_the_train_command_passes_query_files_and_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = typer.Typer()
    register_train_command(app)

    @app.command("other")
    def _other() -> None:  # a second command keeps typer from flattening the app into one command
        pass

    seen: dict[str, Any] = {}

    def fake_train(settings: Settings, *, queries: list[Path]) -> TrainingReport:
        seen.update(epochs=settings.retriever.train.epochs, queries=queries, run_dir=settings.run_dir)
        return TrainingReport(base_model="b", model_dir="m", loss="l", epochs=5, batch_size=2, learning_rate=1.0,
                              seed=0, max_seq_length=16)

    monkeypatch.setattr(training, "train_retriever", fake_train)
    query_file = tmp_path / "G1_query.json"
    shutil.copy(FIXTURES / "G1_query.json", query_file)
    result = CliRunner().invoke(app, ["train", "--queries", str(query_file), "--epochs", "5", "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert seen == {"epochs": 5, "queries": [query_file], "run_dir": tmp_path / "run"}
    assert "held-out metrics" in result.output

    bad = CliRunner().invoke(app, ["train", "--epochs", "0", "--out", str(tmp_path / "run")])
    assert bad.exit_code == 2 and "--epochs 0" in bad.output


def test_the_train_command_says_when_there_is_nothing_to_train_on(tmp_path: Path) -> None:
    app = typer.Typer()
    register_train_command(app)
    app.command("other")(lambda: None)
    run = write_run(tmp_path / "run", with_queries=False)
    result = CliRunner().invoke(app, ["train", "--out", str(run)])
    assert result.exit_code == 1
    assert "no instruction with a relevant API" in result.output
