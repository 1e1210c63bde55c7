"""How runs execute: every step in the run worker's own process.

Runs here are one album's analysis (one step) or the library chain (index, map, clustering,
recipes: each step needs the one before). Dagster's default multiprocess executor would start a
second interpreter per step that imports Dagster and this code location again, for no
parallelism: 1.8 CPU-s more per album run (`benchmarks/analysis_workers.py --dagster-runs`,
BENCHMARKS.md "Analysis throughput with workers").
"""

import dagster as dg


@dg.definitions
def execution() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
