"""Prefect flows wiring the pipeline stages.

No module here is named like a top-level module (``pipeline`` above all): loading a file from
this folder by path (as Prefect does with a file-path entrypoint) puts ``flows/`` first on
``sys.path``, where such a module would shadow the real one. Deployments therefore name their
flows by module path (``flows.stage_flows.collect_flow``), and Prefect imports them as modules.

Importing this package switches off Prefect's telemetry unless the user set it: the default run
is offline and must not try to reach the internet.
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
