"""The verification funnel on hand-made good and bad trajectories: format, execution, semantic,
with the reasons kept, and the stage's files, figures and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.io import read_jsonl
from pipeline.llm.fake_server import FakeOpenAIServer, text
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.types import ChatReply, ChatRequest, ModelError
from pipeline.manifest import read_manifest
from pipeline.records import TrajectoryRecord, iter_accepted, iter_rejected, iter_trajectories
from pipeline.settings import LLMSettings, load_settings
from pipeline.verify.judge import LLMJudge, OfflineJudge, majority, read_verdict
from pipeline.verify.stage import NothingToVerify, funnel_figures, verify_record, verify_trajectories

from .trajectories import LISBON, SUNNY, good_record, lookup, record, step

JUDGE = OfflineJudge(lookup)


async def verdict(rec: dict[str, Any], judge: Any = JUDGE) -> Any:
    return await verify_record(rec, judge)


# --- format -------------------------------------------------------------------------------------


async def test_a_clean_path_passes_every_check() -> None:
    result = await verdict(good_record())
    assert result.passed and result.failed_at is None
    assert result.format.passed and result.execution.passed and result.semantic.verdict == "solved"
    assert result.corrected_errors == 0


async def test_a_function_that_was_not_offered_fails_format() -> None:
    rec = record([step("forecast_for_weather", {"lat": 1, "lon": 2}, SUNNY)])
    result = await verdict(rec)
    assert result.failed_at == "format"
    assert any("'forecast_for_weather' was not offered" in r for r in result.reasons)


async def test_arguments_that_are_not_a_json_object_fail_format() -> None:
    result = await verdict(record([step("geocode_for_cityatlas", '{"name": "Lisbon"', LISBON)]))
    assert result.failed_at == "format"
    assert any("not a JSON object" in r and "Lisbon" in r for r in result.reasons)


async def test_arguments_against_the_schema_fail_format_with_the_field_named() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                  step("current_for_weather", {"lat": "38.72", "lon": -9.14, "units": "kelvin"}, SUNNY)])
    result = await verdict(rec)
    assert result.failed_at == "format"
    reason = next(r for r in result.reasons if "current_for_weather" in r)
    assert "lat: '38.72' is not of type 'number'" in reason and "units: 'kelvin' is not one of" in reason


async def test_a_missing_required_argument_fails_format() -> None:
    result = await verdict(record([step("current_for_weather", {"lat": 1.0}, SUNNY)]))
    assert result.failed_at == "format" and any("'lon' is a required property" in r for r in result.reasons)


async def test_a_schema_error_the_path_corrects_is_kept_and_counted() -> None:
    rec = record([
        step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
        step("current_for_weather", {"lat": "38.72"}, {"error": "lon is required", "response": ""}),
        step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY),
    ])
    result = await verdict(rec)
    assert result.passed and result.corrected_errors == 1
    assert result.format.corrected and "call 2 (current_for_weather)" in result.format.corrected[0]


async def test_a_search_that_gave_up_fails_format_with_one_reason() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON)], finish="give_up_and_restart",
                 answer=None)
    result = await verdict(rec)
    assert result.failed_at == "format"
    assert result.reasons == ["the search gave up: the path does not end in give_answer"]


@pytest.mark.parametrize("answer", [None, "", "   "])
async def test_an_empty_final_answer_fails_format(answer: str | None) -> None:
    result = await verdict(good_record(answer=answer))
    assert result.failed_at == "format" and "the final answer is empty" in result.reasons


# --- execution ----------------------------------------------------------------------------------


async def test_an_api_error_nothing_corrects_fails_execution() -> None:
    failed = {"error": "HTTP 503: upstream unavailable", "response": ""}
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                  step("current_for_weather", {"lat": 38.72, "lon": -9.14}, failed)])
    result = await verdict(rec)
    assert result.failed_at == "execution"
    assert result.reasons == ["call 2 (current_for_weather) failed: HTTP 503: upstream unavailable"]


async def test_an_api_error_a_later_call_corrects_is_allowed() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon right now"},
                       {"error": "no such city", "response": ""}),
                  step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                  step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY)])
    result = await verdict(rec)
    assert result.passed and result.corrected_errors == 1
    assert result.execution.corrected == ["call 1 (geocode_for_cityatlas) failed: no such city"]


async def test_a_call_with_no_observation_fails_execution() -> None:
    result = await verdict(record([step("geocode_for_cityatlas", {"name": "Lisbon"}, None)]))
    assert result.failed_at == "execution" and "no observation" in result.reasons[0]


# --- semantic: the offline rule -----------------------------------------------------------------


async def test_offline_judge_wants_every_relevant_api_called_successfully() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON)],
                 answer="Lisbon is at 38.72, -9.14.")
    result = await verdict(rec)
    assert result.failed_at == "semantic"
    assert any("relevant APIs never called successfully: Weather/current" in r for r in result.reasons)


async def test_offline_judge_wants_the_answer_grounded_in_what_the_apis_returned() -> None:
    result = await verdict(good_record(answer="The weather in Lisbon is lovely today, enjoy it."))
    assert result.failed_at == "semantic"
    assert any("repeats nothing the APIs returned" in r for r in result.reasons)


async def test_offline_judge_ignores_relevant_apis_the_catalog_does_not_have() -> None:
    rec = good_record(relevant=[["CityAtlas", "geocode"], ["Gone Tool", "vanished"]])
    assert (await verdict(rec)).passed


# --- semantic: the LLM judge over HTTP ----------------------------------------------------------


def judge_reply(status: str) -> Any:
    return text(orjson.dumps({"answer_status": status, "reason": f"looks {status.lower()}"}).decode())


def judge_model(server: FakeOpenAIServer) -> OpenAIChatModel:
    return OpenAIChatModel(LLMSettings(backend="openai", base_url=server.base_url, api_key="sk-test",
                                       backoff_base_s=0.01, models={"judge": "judge-model"}))


async def test_llm_judge_takes_the_majority_of_its_votes() -> None:
    async with FakeOpenAIServer([judge_reply("Solved"), judge_reply("Unsolved"), judge_reply("Solved")]) as server:
        async with judge_model(server) as model:
            result = await verdict(good_record(), LLMJudge(model, model_name="judge-model", votes=3))
        sent = [r.json for r in server.chat_requests]
    assert result.passed and result.semantic.votes == ["solved", "unsolved", "solved"]
    # one request asks for all three votes (n=3); this server gives one choice, so the other two
    # votes are asked one by one: three distinct samples, not one cached answer
    assert sent[0]["n"] == 3 and "n" not in sent[1] and "n" not in sent[2]
    assert len({r["seed"] for r in sent}) == 3
    shown = sent[0]["messages"][1]["content"]
    assert "Task: What is the weather in Lisbon" in shown and "current_for_weather" in shown
    assert "Final answer: It is sunny in Lisbon" in shown and sent[0]["model"] == "judge-model"


async def test_llm_judge_asks_again_when_a_reply_has_no_verdict_then_counts_it_unsure() -> None:
    script = [text("I think it is fine?"), judge_reply("Solved"),  # vote 1: unreadable, asked again
              text("hmm"), text("no idea")]  # vote 2: unreadable twice → unsure
    async with FakeOpenAIServer(script) as server, judge_model(server) as model:
        result = await verdict(good_record(), LLMJudge(model, model_name="j", votes=2))
    assert result.semantic.votes == ["solved", "unsure"]
    assert result.failed_at == "semantic" and result.semantic.verdict == "unsure"  # 1 of 2 is no majority
    assert "no verdict in the judge's reply: 'no idea'" in result.semantic.reasons[1]


def test_majority_and_reading_verdicts() -> None:
    assert majority(["solved", "solved", "unsolved"]) == "solved"
    assert majority(["solved", "unsolved"]) == "unsure"
    assert majority(["unsolved", "unsure", "unsolved"]) == "unsolved"
    assert read_verdict('```json\n{"answer_status": "Unsolved", "reason": "no forecast"}\n```') == ("unsolved", "no forecast")
    assert read_verdict("Verdict: SOLVED.")[0] == "solved"
    assert read_verdict('{"answer_status": "maybe"}') is None


# --- the stage ----------------------------------------------------------------------------------


def write_trajectories(run_dir: Path, records: list[dict[str, Any]]) -> None:
    folder = run_dir / "trajectories"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "G1.jsonl").open("wb") as out:
        for rec in records:
            out.write(orjson.dumps(rec) + b"\n")


def mixed_records() -> list[dict[str, Any]]:
    return [
        good_record(query_id=1),
        record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON)], finish="give_up_and_restart",
               answer=None, query_id=2),
        record([step("geocode_for_cityatlas", {"name": "Lisbon"}, {"error": "HTTP 500", "response": ""})],
               query_id=3),
        good_record(query_id=4, answer="All done, have a nice day in Lisbon."),
        record([step("geocode_for_cityatlas", {"name": "Lisbon"}, {"error": "HTTP 503: busy", "response": ""}),
                step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY)], query_id=5),
    ]


async def test_the_stage_writes_accepted_and_rejected_with_the_funnel(tmp_path: Path) -> None:
    write_trajectories(tmp_path, mixed_records())
    settings = load_settings(run_dir=tmp_path)
    report = await verify_trajectories(settings, judge=JUDGE)
    assert report.funnel == {"candidates": 5, "format": 4, "execution": 3, "grounding": 3, "semantic": 2}
    assert report.accepted == 2 and report.rejected == {"format": 1, "execution": 1, "grounding": 0, "semantic": 1}
    assert report.corrected_errors == 1
    assert report.reasons == {"format: the search gave up": 1, "execution: failed": 1,
                              "semantic: the final answer repeats nothing the APIs returned": 1}
    accepted = list(read_jsonl(tmp_path / "verified" / "accepted.jsonl"))
    assert sorted(r["query_id"] for r in accepted) == [1, 5]
    assert all(r["verification"]["passed"] and r["tree"]["nodes"] for r in accepted)  # whole records
    rejected = {r["query_id"]: r for r in read_jsonl(tmp_path / "verified" / "rejected.jsonl")}
    assert rejected[3]["failed_at"] == "execution" and rejected[3]["reasons"] == ["call 1 (geocode_for_cityatlas) failed: HTTP 500"]
    assert read_manifest(tmp_path)["stages"]["verify"]["funnel"] == report.funnel


async def test_a_rerun_does_no_work_and_keeps_the_figures(tmp_path: Path) -> None:
    write_trajectories(tmp_path, mixed_records())
    settings = load_settings(run_dir=tmp_path)
    first = await verify_trajectories(settings, judge=JUDGE)
    again = await verify_trajectories(settings, judge=JUDGE)
    assert (again.verified, again.resumed) == (0, 5)
    assert again.funnel == first.funnel and again.accepted == first.accepted
    assert len(list(read_jsonl(tmp_path / "verified" / "rejected.jsonl"))) == 3


class FlakyJudge:
    """Fails on one query with a model error the first time only."""

    name = "flaky"

    def __init__(self) -> None:
        self.failed = False

    async def judge(self, rec: TrajectoryRecord, calls: Any) -> Any:
        if rec.query_id == 1 and not self.failed:
            self.failed = True
            raise ModelError("judge model 'j' at http://x: HTTP 503")
        return JUDGE.judge_now(rec, calls)


async def test_a_judge_error_writes_nothing_and_the_rerun_judges_that_sample(tmp_path: Path) -> None:
    write_trajectories(tmp_path, mixed_records())
    settings = load_settings(run_dir=tmp_path)
    judge = FlakyJudge()
    first = await verify_trajectories(settings, judge=judge)
    assert first.judge_errors == 1 and first.accepted == 1 and first.funnel["candidates"] == 4
    second = await verify_trajectories(settings, judge=judge)
    assert (second.verified, second.judge_errors, second.accepted) == (1, 0, 2)


async def test_the_configured_llm_judge_is_used_when_a_backend_is_set(tmp_path: Path) -> None:
    write_trajectories(tmp_path, [good_record(query_id=1)])
    async with FakeOpenAIServer(default=judge_reply("Unsolved")) as server:
        settings = load_settings(run_dir=tmp_path, llm={"backend": "openai", "base_url": server.base_url,
                                                        "api_key": "sk-x", "cache": False},
                                 verify={"votes": 3})
        report = await verify_trajectories(settings)
    assert report.judge == "gpt-4o-mini" and report.votes == 3 and report.accepted == 0
    assert report.reasons == {"semantic: the judge said unsolved": 1}
    assert report.llm_usage["judge"]["requests"] == 3


async def test_no_trajectories_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NothingToVerify, match="trajectories.*toolgen annotate"):
        await verify_trajectories(load_settings(run_dir=tmp_path))


class EchoModel:
    async def chat(self, request: ChatRequest) -> ChatReply:
        return ChatReply(content='{"answer_status": "Solved", "reason": "ok"}')


async def test_a_given_model_serves_as_the_judge(tmp_path: Path) -> None:
    write_trajectories(tmp_path, [good_record(query_id=7)])
    report = await verify_trajectories(load_settings(run_dir=tmp_path, verify={"judge": "llm", "votes": 1}),
                                       model=EchoModel())
    assert report.accepted == 1


async def test_readers_count_each_sample_once_in_a_folder_two_writers_damaged(tmp_path: Path) -> None:
    write_trajectories(tmp_path, mixed_records())
    await verify_trajectories(load_settings(run_dir=tmp_path), judge=JUDGE)
    clean = funnel_figures(tmp_path)
    for path in [*(tmp_path / "trajectories").glob("*.jsonl"), *(tmp_path / "verified").glob("*.jsonl")]:
        path.write_bytes(path.read_bytes() * 2)  # what two appenders on one folder left behind

    trajectories = list(iter_trajectories(tmp_path))
    assert len({t.key for t in trajectories}) == len(trajectories) == len(mixed_records())
    assert len(list(iter_accepted(tmp_path))) == clean.accepted
    assert len(list(iter_rejected(tmp_path))) == sum(clean.rejected.values())
    assert funnel_figures(tmp_path) == clean
    again = await verify_trajectories(load_settings(run_dir=tmp_path), judge=JUDGE)
    assert again.verified == 0 and again.funnel == clean.funnel


def test_the_judge_prompt_depends_on_the_data_not_on_how_the_run_got_it() -> None:
    from pipeline.verify.checks import path_calls
    from pipeline.verify.judge import render_path

    fresh = record([step("geocode_for_cityatlas", {"name": "Lisbon"},
                         {**LISBON, "status": 200, "mode": "real", "cached": False, "elapsed_ms": 41.7})])
    replayed = record([step("geocode_for_cityatlas", {"name": "Lisbon"},
                            {**LISBON, "status": 200, "mode": "real", "cached": True, "elapsed_ms": 0.3})])

    shown = render_path(fresh, path_calls(fresh), 5000)
    assert shown == render_path(replayed, path_calls(replayed), 5000)
    assert "elapsed_ms" not in shown and "cached" not in shown and "Lisbon" in shown


async def test_llm_judge_gets_all_its_votes_from_one_request_where_the_server_samples_n() -> None:
    from pipeline.llm.fake_server import choices

    votes = choices(judge_reply("Solved"), judge_reply("Unsolved"), judge_reply("Solved"))
    async with FakeOpenAIServer([votes]) as server:
        async with judge_model(server) as model:
            result = await verdict(good_record(), LLMJudge(model, model_name="judge-model", votes=3))
        assert len(server.chat_requests) == 1 and server.chat_requests[0].json["n"] == 3
    assert result.passed and result.semantic.votes == ["solved", "unsolved", "solved"]


async def test_llm_judge_asks_vote_by_vote_where_the_server_refuses_n() -> None:
    from pipeline.llm.fake_server import http_error

    def reply(body: dict[str, Any]) -> Any:
        if body.get("n", 1) > 1:
            return http_error(400, "n > 1 is not supported with this sampling setting")
        return judge_reply("Solved")

    async with FakeOpenAIServer(reply) as server:
        async with judge_model(server) as model:
            judge = LLMJudge(model, model_name="judge-model", votes=3, structured_output="off")
            first = await verdict(good_record(), judge)
            second = await verdict(good_record(), judge)
        with_n = [r for r in server.chat_requests if r.json.get("n", 1) > 1]
    assert first.passed and second.passed
    assert len(with_n) == 1  # refused once, then never asked with n again
