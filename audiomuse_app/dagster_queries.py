"""Every GraphQL document AudioMuse sends to the Dagster webserver, in one place.

The explorer's pipeline page (``dagster_client``), ``scripts/check_ui.py`` and the backfill tests
speak the same queries, so a change in Dagster's schema shows up in one module.
"""

LOCATION = "audiomuse"
REPOSITORY = "__repository__"

RUNS_QUERY = """
query Runs($limit: Int) {
  runsOrError(limit: $limit) {
    __typename
    ... on Runs { results { runId jobName status startTime endTime tags { key value }
                            assetSelection { path } } }
    ... on PythonError { message }
  }
}"""

LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
  }
}"""

TERMINATE_MUTATION = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}"""

# The catalog's latest materialisation and the analysis partitions (check_ui.py).
CATALOG_STATUS = """
{
  catalog: assetNodeOrError(assetKey: {path: ["catalog"]}) {
    __typename
    ... on AssetNode { assetMaterializations(limit: 1) { runId timestamp
        metadataEntries { label ... on IntMetadataEntry { intValue } } } }
  }
  analysis: assetNodeOrError(assetKey: {path: ["track_analysis"]}) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""

# What the UI's launch dialog reads: the asset's jobs (to pick the backfill form), its partition keys.
ASSET_FOR_LAUNCH = """
query AssetForLaunch($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      jobNames
      partitionDefinition { type name }
      partitionKeysByDimension { name partitionKeys }
      repository { name location { name } }
      partitionStats { numMaterialized numPartitions numFailed }
    }
  }
}
"""

# The mutation the UI's "Materialize" dialog sends for partitions.
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

BACKFILL_STATUS = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { status numPartitions isAssetBackfill }
    ... on PythonError { message }
  }
}
"""
