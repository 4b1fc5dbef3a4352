"""Prefect flows wiring the pipeline stages.

Importing this package switches off Prefect's telemetry unless the user set it: the default run
is offline and must not try to reach the internet.
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
