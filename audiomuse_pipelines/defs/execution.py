"""How runs execute: every step in the run worker's own process.

Runs here are one album's analysis (one step) or the library chain (index, map, clustering,
recipes: each step needs the one before). Dagster's default multiprocess executor would start a
second interpreter per step that imports Dagster and this code location again (1.4 CPU-s with
compiled bytecode, 3.3 without) for no parallelism: `benchmarks/analysis_workers.py` and
BENCHMARKS.md give the per-run figures.
"""

import dagster as dg


@dg.definitions
def execution() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
