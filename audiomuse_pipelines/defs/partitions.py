"""One dynamic partition per album: analysis runs, retries and backfills are per album."""

import dagster as dg

albums_partitions = dg.DynamicPartitionsDefinition(name="albums")
