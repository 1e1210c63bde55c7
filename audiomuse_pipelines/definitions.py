"""The code location: everything under ``defs/`` (assets, jobs, sensors, resources), found by
Dagster's defs-folder loader as ``create-dagster project`` scaffolds it (``dg list defs``)."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
