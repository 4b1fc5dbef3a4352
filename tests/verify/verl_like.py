"""verl's way of loading a custom reward function, reproduced step by step (verl is not installed:
it needs CUDA-era torch, ray and vLLM). Source: volcengine/verl at b178a3cd (2026-01-29).

* ``verl/utils/import_utils.py`` ``load_module`` (lines 87-139): for a file path, a spec named
  ``custom_module_<hash of the absolute path>`` from ``importlib.util.spec_from_file_location``
  (line 119), ``module_from_spec`` (123), ``spec.loader.exec_module`` (125); the module is put in
  ``sys.modules`` only when a ``module_name`` is passed (137), which ``load_extern_object``
  (184-196) never does.
* ``verl/trainer/ppo/reward.py`` ``get_custom_reward_fn`` (60-96): ``load_extern_object(path,
  name)`` (90), wrapped as ``partial(_call_with_kwargs, raw_fn, reward_kwargs)`` (94), which
  merges the config's ``reward_kwargs`` into each call's keyword arguments (42-48).
* The reward managers call it with keywords only: ``verl/workers/reward_manager/naive.py``
  (line 85: ``data_source=, solution_str=, ground_truth=, extra_info=``) and
  ``verl/experimental/reward_loop/reward_manager/naive.py`` (57-82), which adds
  ``reward_router_address=`` and ``reward_model_tokenizer=`` when a reward router is set.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

REWARD_FILE = Path(__file__).resolve().parents[2] / "pipeline" / "verify" / "reward.py"


def load_module_like_verl(module_path: Path) -> Any:
    """``load_module(module_path)`` with no ``module_name``: executed, never registered."""
    spec_name = f"custom_module_{hash(os.path.abspath(module_path))}"
    spec = importlib.util.spec_from_file_location(spec_name, module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _call_with_kwargs(raw_fn: Callable[..., Any], extra_kwargs: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


def get_custom_reward_fn_like_verl(path: Path, name: str = "compute_score",
                                   reward_kwargs: Mapping[str, Any] | None = None) -> Callable[..., Any]:
    """``get_custom_reward_fn`` for ``custom_reward_function.path=path``, ``.name=name``."""
    module = load_module_like_verl(path)
    if not hasattr(module, name):
        raise AttributeError(f"Object not found in module: {name=}, {path=}.")
    return partial(_call_with_kwargs, getattr(module, name), dict(reward_kwargs or {}))


def score_like_reward_loop(compute_score: Callable[..., Any], row: Mapping[str, Any], response: str,
                           *, router: bool) -> Any:
    """How verl's reward managers call the function for one rollout of ``row``."""
    extra_info = dict(row.get("extra_info") or {})
    extra_info.update(num_turns=None, rollout_reward_scores={})
    extra = {"reward_router_address": "127.0.0.1:0", "reward_model_tokenizer": None} if router else {}
    return compute_score(data_source=row["data_source"], solution_str=response,
                         ground_truth=row["reward_model"]["ground_truth"], extra_info=extra_info, **extra)
