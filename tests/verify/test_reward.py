"""ToolRL's reward on worked examples: parsing, the format rule, correctness, the verl entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.io import loads
from pipeline.verify.reward import (
    BLOCK_TAGS,
    MAX_CORRECTNESS,
    MAX_FORMAT,
    MIN_CORRECTNESS,
    TOOLRL_SYSTEM_PROMPT,
    answer_similarity,
    compute_score,
    correctness_reward,
    format_reward,
    format_tools_for_prompt,
    jaccard,
    parse_completion,
    render_reference,
    toolrl_reward,
    toolrl_system_message,
)
from tests.verify.verl_like import REWARD_FILE, get_custom_reward_fn_like_verl, score_like_reward_loop


def call(name: str, **parameters: Any) -> dict[str, Any]:
    return {"name": name, "parameters": parameters}


def call_of(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "parameters": parameters}


WEATHER_PARIS = call("get_weather", city="Paris", units="metric")
TIME_CET = call("get_time", tz="CET")
REFERENCE_CALLS = [WEATHER_PARIS, TIME_CET]  # 2 params + 1 param


# ---- parsing -------------------------------------------------------------------------------------

def test_parse_reads_think_calls_and_response() -> None:
    text = ('<think>need weather</think>\n<tool_call>\n'
            '{"name": "get_weather", "parameters": {"city": "Paris"}}\n'
            '{"name": "get_time"}\n</tool_call>\n<response> One moment. </response>')

    parsed = parse_completion(text)

    assert parsed.think == "need weather"
    assert parsed.calls == [call("get_weather", city="Paris"), call("get_time")]
    assert parsed.response == "One moment."
    assert parsed.tag_counts["<tool_call>"] == 1 and parsed.tag_counts["</response>"] == 1


def test_parse_gives_no_calls_without_a_block_and_none_for_a_broken_line() -> None:
    no_block = parse_completion("<think>x</think>\n<response>hi</response>")
    broken = parse_completion('<think>x</think>\n<tool_call>\n{"name": "get_time", "parameters": {\n'
                              '</tool_call>')
    not_a_call = parse_completion('<think>x</think>\n<tool_call>\n["get_time"]\n</tool_call>')

    assert no_block.calls == []
    assert broken.calls is None
    assert not_a_call.calls is None


# ---- format --------------------------------------------------------------------------------------

CALLS_ONLY = render_reference("t", REFERENCE_CALLS, None)
BOTH = render_reference("t", REFERENCE_CALLS, "Here you go.")
RESPONSE_ONLY = render_reference("t", None, "Which city?")
A_CALL = '<tool_call>\n{"name": "get_time", "parameters": {"tz": "CET"}}\n</tool_call>'


def test_format_is_one_when_the_completion_has_the_references_blocks() -> None:
    assert format_reward(f"<think>hmm</think>\n{A_CALL}", CALLS_ONLY) == 1.0
    assert format_reward(f"<think>hmm</think>\n{A_CALL}\n<response>ok</response>", BOTH) == 1.0
    assert format_reward("<think></think><response>Paris?</response>", RESPONSE_ONLY) == 1.0


def test_format_needs_think() -> None:
    assert format_reward(A_CALL, CALLS_ONLY) == 0.0


def test_format_rejects_a_duplicated_tag() -> None:
    assert format_reward(f"<think>a</think>\n<think>b</think>\n{A_CALL}", CALLS_ONLY) == 0.0
    assert format_reward(f"<think>a</think>\n{A_CALL}\n{A_CALL}", CALLS_ONLY) == 0.0


def test_format_rejects_a_block_the_reference_does_not_have_or_lacks_one_it_has() -> None:
    assert format_reward(f"<think>a</think>\n{A_CALL}\n<response>done</response>", CALLS_ONLY) == 0.0
    assert format_reward(f"<think>a</think>\n{A_CALL}", BOTH) == 0.0


def test_format_rejects_wrong_order_and_text_outside_the_blocks() -> None:
    assert format_reward(f"{A_CALL}\n<think>a</think>", CALLS_ONLY) == 0.0
    assert format_reward(f"Sure! <think>a</think>\n{A_CALL}", CALLS_ONLY) == 0.0
    assert format_reward(f"<think>a</think>\n{A_CALL} hope that helps", CALLS_ONLY) == 0.0
    assert format_reward(f"<think>a</think>\nCalling now:\n{A_CALL}", CALLS_ONLY) == 0.0


def test_format_rejects_an_unclosed_tag() -> None:
    assert format_reward("<think>a\n" + A_CALL, CALLS_ONLY) == 0.0


# ---- correctness ---------------------------------------------------------------------------------

def test_an_exact_match_scores_three_in_any_order() -> None:
    assert correctness_reward([TIME_CET, WEATHER_PARIS], REFERENCE_CALLS) == 3.0


def test_numbers_compare_by_value_but_bools_are_not_numbers() -> None:
    assert correctness_reward([call("f", n=1.0)], [call("f", n=1)]) == 3.0
    # f(n=True) vs f(n=1): J(names) = 1, J(param names) = 1, equal values 0
    # S = 1 + (1 + 0) = 2, S_max = 1 + (1 + 1) = 3, R = 6·2/3 − 3 = 1
    assert correctness_reward([call("f", n=True)], [call("f", n=1)]) == pytest.approx(1.0)


def test_one_wrong_value_among_two_calls() -> None:
    # Reference: get_weather(city, units) and get_time(tz). Prediction gets units wrong.
    # J(names) = |{w,t}∩{w,t}| / |{w,t}∪{w,t}| = 1
    # get_weather: J({city,units},{city,units}) = 1, equal values = 1 (city) → 2
    # get_time:    J({tz},{tz}) = 1, equal values = 1 → 2
    # S = 1 + 2 + 2 = 5; S_max = 1 + (1 + 2) + (1 + 1) = 6; R = 6·5/6 − 3 = 2
    predicted = [call("get_weather", city="Paris", units="imperial"), TIME_CET]

    assert correctness_reward(predicted, REFERENCE_CALLS) == pytest.approx(2.0)


def test_a_missing_call_and_a_misnamed_parameter() -> None:
    # Prediction: only get_weather(city="Paris", unit="metric").
    # J(names) = |{w}∩{w,t}| / |{w}∪{w,t}| = 1/2
    # get_weather: J({city,unit},{city,units}) = 1/3, equal values = 1 (city) → 4/3
    # get_time: no prediction with that name → 0
    # S = 1/2 + 4/3 = 11/6; S_max = 6; R = 6·(11/6)/6 − 3 = 11/6 − 3 = −7/6
    predicted = [call("get_weather", city="Paris", unit="metric")]

    assert correctness_reward(predicted, REFERENCE_CALLS) == pytest.approx(-7 / 6)


def test_an_extra_call_lowers_the_name_similarity() -> None:
    # Prediction: both reference calls plus get_news(). J(names) = 2/3 (multiset union has 3).
    # get_weather matches exactly: J = 1 plus 2 equal values → 3; get_time: 1 + 1 → 2
    # S = 2/3 + 3 + 2 = 17/3; S_max = 6; R = 6·(17/3)/6 − 3 = 17/3 − 3 = 8/3
    predicted = [WEATHER_PARIS, TIME_CET, call("get_news")]

    assert correctness_reward(predicted, REFERENCE_CALLS) == pytest.approx(8 / 3)


def test_same_name_calls_are_paired_greedily_in_reference_order() -> None:
    # Reference f(a=1), f(a=2); prediction f(a=2), f(a=3). J(names) = 1.
    # f(a=1): both predictions score 1 + 0 → the earlier, f(a=2), is taken.
    # f(a=2): only f(a=3) is left → 1 + 0. (ToolRL's greedy rule; an optimal pairing would give 4.)
    # S = 1 + 1 + 1 = 3; S_max = 1 + 2 + 2 = 5; R = 6·3/5 − 3 = 0.6
    assert correctness_reward([call("f", a=2), call("f", a=3)], [call("f", a=1), call("f", a=2)]) == (
        pytest.approx(0.6))


def test_parameters_where_the_reference_has_none() -> None:
    # Reference f(); prediction f(x=1). J(names) = 1, J({x}, {}) = 0, no values to compare.
    # S = 1; S_max = 1 + (1 + 0) = 2; R = 6·1/2 − 3 = 0
    assert correctness_reward([call("f", x=1)], [call("f")]) == pytest.approx(0.0)


def test_no_parseable_call_where_one_is_expected_scores_minus_three() -> None:
    assert correctness_reward(None, REFERENCE_CALLS) == -3.0
    assert correctness_reward([], REFERENCE_CALLS) == -3.0


def test_empty_references() -> None:
    assert correctness_reward([], []) == 3.0
    # Calls where none are expected: J(names) = 0, S_max = 1 → R = −3
    assert correctness_reward([call("f")], []) == -3.0
    assert correctness_reward(None, []) == -3.0


def test_pipeline_call_dicts_with_arguments_are_read_too() -> None:
    assert correctness_reward([{"name": "get_time", "arguments": {"tz": "CET"}}], [TIME_CET]) == 3.0


def test_jaccard_is_a_multiset_similarity() -> None:
    assert jaccard(["a", "a", "b"], ["a", "b"]) == pytest.approx(2 / 3)
    assert jaccard([], []) == 1.0
    assert jaccard(["a"], []) == 0.0


# ---- the whole reward ----------------------------------------------------------------------------

def test_toolrl_reward_adds_format_and_correctness() -> None:
    completion = ('<think>weather then time</think>\n<tool_call>\n'
                  '{"name": "get_time", "parameters": {"tz": "CET"}}\n'
                  '{"name": "get_weather", "parameters": {"city": "Paris", "units": "imperial"}}\n'
                  '</tool_call>')

    reward = toolrl_reward(completion, CALLS_ONLY)

    # format 1; correctness 2 as in test_one_wrong_value_among_two_calls
    assert reward.format == 1.0
    assert reward.correctness == pytest.approx(2.0)
    assert reward.total == pytest.approx(3.0)
    assert compute_score("toolgen", completion, CALLS_ONLY) == pytest.approx(3.0)


def test_an_unparseable_call_line_scores_minus_three_but_keeps_the_format_point() -> None:
    completion = '<think>x</think>\n<tool_call>\n{"name": "get_time", "parameters": {"tz": CET}}\n' \
                 '</tool_call>'

    reward = toolrl_reward(completion, CALLS_ONLY)

    assert (reward.format, reward.correctness, reward.total) == (1.0, -3.0, -2.0)


def test_a_response_only_reference_rewards_answering_without_calls() -> None:
    assert toolrl_reward("<think>ask</think>\n<response>Which city?</response>", RESPONSE_ONLY).total == 4.0
    assert toolrl_reward(f"<think>go</think>\n{A_CALL}", RESPONSE_ONLY).total == -3.0


def test_a_broken_ground_truth_is_an_error() -> None:
    with pytest.raises(ValueError, match="ground truth"):
        toolrl_reward("<think>x</think>", "<think></think>\n<tool_call>\nnot json\n</tool_call>")


# ---- what the RL exporter uses -------------------------------------------------------------------

def test_a_rendered_reference_parses_back_and_scores_full_marks_against_itself() -> None:
    pipeline_style_time = {"name": "get_time", "arguments": {"tz": "CET"}}
    text = render_reference("Look up both.", [WEATHER_PARIS, pipeline_style_time], "Done.")

    parsed = parse_completion(text)
    assert (parsed.think, parsed.calls, parsed.response) == ("Look up both.", REFERENCE_CALLS, "Done.")
    assert toolrl_reward(text, text).total == 4.0


def test_a_reference_without_a_thought_still_has_a_think_block() -> None:
    text = render_reference(None, None, "Hello.")

    assert text == "<think></think>\n<response>Hello.</response>"


def test_a_reference_needs_calls_or_a_response() -> None:
    with pytest.raises(ValueError):
        render_reference("t", [], None)


def test_tools_are_listed_one_function_per_line_whatever_their_wrapping() -> None:
    function = {"name": "get_time", "description": "Time in a zone.",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}

    listed = format_tools_for_prompt([{"type": "function", "function": function}, function])

    assert [loads(line) for line in listed.splitlines()] == [function, function]
    message = toolrl_system_message([function])
    assert message.startswith(TOOLRL_SYSTEM_PROMPT)
    assert message.endswith(listed.splitlines()[0])
    assert "<think>" in TOOLRL_SYSTEM_PROMPT and "<tool_call>" in TOOLRL_SYSTEM_PROMPT


# ---- the final answer counts ---------------------------------------------------------------------

ANSWER = render_reference("Both done.", None, "Paris is 18 degrees and it is 14:05 CET.")


def test_an_empty_completion_gets_nothing_for_an_answer_row() -> None:
    # Before the answer counted: format 0 + correctness 3 (no calls expected, none made) = 3.0.
    assert compute_score("toolgen", "", ANSWER) == -3.0
    assert compute_score("toolgen", "<think>x</think>\n<response>  </response>", ANSWER) == -2.0  # blank answer


def test_the_answers_words_decide_the_answer_credit() -> None:
    right = toolrl_reward("<think>t</think>\n<response>Paris is 18 degrees and it is 14:05 CET.</response>", ANSWER)
    half = toolrl_reward("<think>t</think>\n<response>Paris is 18 degrees.</response>", ANSWER)
    wrong = toolrl_reward("<think>t</think>\n<response>I could not find anything.</response>", ANSWER)

    assert right.total == 4.0
    # 10 reference tokens, 4 predicted, 4 shared: F1 = 2·1·0.4/1.4 = 4/7; S = 1 + 4/7, S_max = 2
    assert half.correctness == pytest.approx(6 * (1 + 4 / 7) / 2 - 3)
    assert wrong.correctness == 0.0  # calls right (none), answer wrong: the middle of [-3, 3]
    assert right.total > half.total > wrong.total


def test_answer_similarity_is_token_f1() -> None:
    assert answer_similarity("The cat", "the CAT!") == 1.0
    assert answer_similarity("a b", "a c") == pytest.approx(0.5)
    assert answer_similarity("", "") == 1.0 and answer_similarity("x", "") == 0.0


def test_a_reference_with_calls_and_an_answer_needs_both() -> None:
    calls = ('<tool_call>\n{"name": "get_weather", "parameters": {"city": "Paris", "units": "metric"}}\n'
             '{"name": "get_time", "parameters": {"tz": "CET"}}\n</tool_call>')
    assert toolrl_reward(f"<think>t</think>\n{calls}\n<response>Here you go.</response>", BOTH).total == 4.0
    assert toolrl_reward(f"<think>t</think>\n{calls}", BOTH).correctness == -3.0
    # calls right (S = 1 + 3 + 2 = 6 of 7 with the answer), answer wrong
    assert toolrl_reward(f"<think>t</think>\n{calls}\n<response>No.</response>", BOTH).correctness == \
        pytest.approx(6 * 6 / 7 - 3)


# ---- as verl calls it ----------------------------------------------------------------------------

def test_compute_score_takes_the_keywords_verl_adds() -> None:
    good = f"<think>go</think>\n{A_CALL}"
    truth = render_reference("t", [TIME_CET], None)
    score = compute_score(data_source="toolgen", solution_str=good, ground_truth=truth,
                          extra_info={"index": 0, "num_turns": None, "rollout_reward_scores": {}},
                          reward_router_address="127.0.0.1:8000", reward_model_tokenizer=None)
    assert score == 4.0


def test_the_file_loads_by_path_like_verl_and_scores_like_the_package() -> None:
    compute = get_custom_reward_fn_like_verl(REWARD_FILE, reward_kwargs={"unused_option": 1})
    row = {"data_source": "toolgen", "reward_model": {"style": "rule", "ground_truth": BOTH},
           "extra_info": {"index": 3, "step": 2}}
    for response in ("", f"<think>go</think>\n{A_CALL}", "<think>t</think>\n<response>Here you go.</response>"):
        expected = compute_score("toolgen", response, BOTH)
        assert score_like_reward_loop(compute, row, response, router=False) == expected
        assert score_like_reward_loop(compute, row, response, router=True) == expected
    assert not any(name.startswith("custom_module_") for name in sys.modules)  # loaded unregistered


def test_a_copy_of_the_file_works_with_the_standard_library_alone(tmp_path: Path) -> None:
    """Users copy reward.py beside their verl scripts: it must not need this project or its
    dependencies. ``-S`` leaves site-packages (pydantic, orjson, the project) out; ``-I`` the
    working directory and PYTHONPATH."""
    copy = tmp_path / "reward.py"
    shutil.copy(REWARD_FILE, copy)
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('custom_module_1', {str(copy)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        f"print(json.dumps([module.compute_score(data_source='toolgen', solution_str=s, ground_truth={BOTH!r},\n"
        "                   extra_info=None, reward_router_address=None) for s in sys.argv[1:]]))\n"
    )
    responses = ["", "<think>t</think>\n<response>Here you go.</response>"]
    out = subprocess.run([sys.executable, "-S", "-I", "-c", code, *responses], capture_output=True, text=True,
                         cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [compute_score("toolgen", s, BOTH) for s in responses]


# ---- properties ----------------------------------------------------------------------------------

_TAGGED = st.lists(st.one_of(st.sampled_from([f"<{t}>" for t in BLOCK_TAGS] + [f"</{t}>" for t in BLOCK_TAGS]
                                             + ["\n", '{"name": "get_time", "parameters": {"tz": "CET"}}',
                                                '{"name": 1}', "[[[", "Here you go."]),
                             st.text(max_size=20)), max_size=12).map("".join)
_JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
_CALLS = st.lists(st.builds(call_of, st.text(min_size=1, max_size=8), st.dictionaries(st.text(max_size=6), _JSON_VALUES,
                                                                                     max_size=3)), max_size=3)
_TEXT_WITHOUT_TAGS = st.text(max_size=40).filter(lambda text: "<" not in text)


@settings(max_examples=300, deadline=None)
@given(completion=st.one_of(st.text(), _TAGGED), thought=_TEXT_WITHOUT_TAGS, calls=_CALLS,
       response=st.none() | _TEXT_WITHOUT_TAGS)
def test_compute_score_never_raises_and_stays_in_range(completion: str, thought: str, calls: list[dict[str, Any]],
                                                       response: str | None) -> None:
    if not calls and response is None:
        response = ""
    truth = render_reference(thought, calls, response)

    score = compute_score("toolgen", completion, truth, None, reward_router_address=None)

    assert MIN_CORRECTNESS <= score <= MAX_CORRECTNESS + MAX_FORMAT
    assert compute_score("toolgen", truth, truth) == MAX_CORRECTNESS + MAX_FORMAT  # the reference is the best answer


@pytest.mark.parametrize("depth", [3, 500, 990, 5000])
def test_deeply_nested_arguments_do_not_crash_the_reward(depth: int) -> None:
    truth = render_reference("t", [TIME_CET], None)
    completion = ('<think>x</think>\n<tool_call>\n{"name": "get_time", "parameters": {"tz": '
                  + "[" * depth + "]" * depth + "}}\n</tool_call>")

    score = compute_score("toolgen", completion, truth)

    assert MIN_CORRECTNESS <= score <= MAX_CORRECTNESS + MAX_FORMAT
