"""The code location as it was before `defs/execution.py`: Dagster's default multiprocess executor.

Only `benchmarks/analysis_workers.py --dagster-runs` loads it, to price that executor's per-step
interpreter against the in-process one in the same run.
"""

from pathlib import Path

import dagster as dg
from dagster_shared.record import copy

import audiomuse_pipelines


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(audiomuse_pipelines.__file__).parent)
    return copy(loaded, executor=dg.multiprocess_executor)
