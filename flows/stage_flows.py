"""One Prefect flow per stage of :func:`pipeline.stages.registry`, all made the same way.

A flow resolves its settings, validates its options, runs the stage through
:func:`pipeline.stages.run_stage` (so the manifest and the "nothing to do" check are the
library's), and publishes the stage's artifacts. A batched stage's phases become tasks: ``plan``,
one ``batch`` task per batch (retried: a batch skips the items an earlier attempt wrote), and
``finalize``. Tasks are async and awaited on the flow's own event loop, because batches share
the session's aiohttp sessions and semaphores (``.submit()`` would run them on another loop).

Each flow is a module attribute named ``<stage>_flow`` (``collect_flow``, ``annotate_flow``, ...),
so deployments can name it by module path (``flows.stage_flows.collect_flow``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from prefect import Flow, flow, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import masked_parameters, resolve_settings
from pipeline.settings import Settings
from pipeline.stages import (
    Artifact,
    BatchedStage,
    MarkdownArtifact,
    PhaseRunner,
    Stage,
    StageContext,
    registry,
    run_stage,
    stage_named,
)

StageFlow = Flow[..., Coroutine[Any, Any, Any]]

BATCH_RETRIES = 2
"""A batch that raised is run again (a crash of a worker, a lost connection outside the model
client's own retries); its finished items are on disk, so a retry only does the rest."""


def _phases_as_tasks(stage: Stage[Any, Any]) -> PhaseRunner:
    async def call(phase: str, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        async def run_phase(*phase_args: Any) -> Any:
            return await function(*phase_args)

        as_task = task(
            name=f"{stage.name}-{phase}",
            cache_policy=NO_CACHE,  # inputs hold clients and locks: nothing to hash or cache
            retries=BATCH_RETRIES if phase == "batch" else 0,
            retry_delay_seconds=5,
        )(run_phase)
        return await as_task(*args)

    return call


async def execute_as_tasks(stage: Stage[Any, Any], context: StageContext, options: Any) -> Any:
    """The stage's work as Prefect tasks: a batched stage's phases, or one task for the rest."""
    if isinstance(stage, BatchedStage):
        return await stage.execute_with(context, options, _phases_as_tasks(stage))
    return await _phases_as_tasks(stage)("run", stage.execute, context, options)


async def publish(artifacts: list[Artifact]) -> None:
    for artifact in artifacts:
        if isinstance(artifact, MarkdownArtifact):
            await acreate_markdown_artifact(key=artifact.key, markdown=artifact.markdown)
        else:
            await acreate_table_artifact(key=artifact.key, table=artifact.rows, description=artifact.description)


def _make_flow(stage: Stage[Any, Any]) -> StageFlow:
    name = stage.name

    async def run_one_stage(
        settings: Settings | None = None,
        config: str | None = None,
        run_name: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Any:
        resolved = resolve_settings(settings, config, run_name)
        chosen = stage_named(name)
        report = await run_stage(chosen, StageContext.of(resolved), options, runner=execute_as_tasks)
        await publish(chosen.artifacts(report))
        return report

    # Deployments name a flow by module path, so the function must be findable under its name.
    run_one_stage.__name__ = run_one_stage.__qualname__ = f"{name}_flow"
    run_one_stage.__module__ = __name__
    run_one_stage.__doc__ = type(stage).__doc__
    return masked_parameters(flow(name=name, validate_parameters=False, log_prints=False)(run_one_stage))


FLOWS: dict[str, StageFlow] = {stage.name: _make_flow(stage) for stage in registry()}
globals().update({f"{name}_flow": stage_flow for name, stage_flow in FLOWS.items()})


def flow_for(name: str) -> StageFlow:
    """The flow of the stage called ``name``."""
    stage_named(name)  # a clear error for an unknown name
    return FLOWS[name]
