"""The code location: every asset, job, sensor and resource of AudioMuse."""

import dagster as dg

from audiomuse_pipelines.defs.analysis import analyse_album_job, new_albums_sensor, track_analysis
from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.library import (
    clustering_playlists,
    library_automation,
    music_map,
    published_playlists,
    similarity_index,
)
from audiomuse_pipelines.defs.resources import default_resources
from audiomuse_pipelines.defs.sync import collection_sync

defs = dg.Definitions(
    assets=[catalog, track_analysis, similarity_index, music_map, clustering_playlists, published_playlists,
            collection_sync],
    jobs=[analyse_album_job],
    sensors=[new_albums_sensor, library_automation],
    resources=default_resources(),
)
