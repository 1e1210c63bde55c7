"""Check a running `make run`: the Dagster webserver lists `catalog` materialised, one `albums`
partition per album of the library, and the explorer app answers.

Usage: python scripts/check_ui.py [--dagster http://127.0.0.1:3000] [--app http://127.0.0.1:8501] [--wait 300]
                                  [--backfill]
Exit code 0 when everything is there; prints what it found either way.

``--backfill`` then backfills every partition of ``track_analysis`` with the mutation the UI's
"Materialize" dialog sends from the asset's page, and waits (up to ``--wait`` more seconds) for the
daemon to finish it: OK when the backfill completed and every album partition is materialised.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx

from audiomuse_app.dagster_queries import ASSET_FOR_LAUNCH, BACKFILL_STATUS, CATALOG_STATUS, LAUNCH_BACKFILL


def check(dagster: str, app: str) -> tuple[bool, str]:
    try:
        data = httpx.post(f"{dagster}/graphql", json={"query": CATALOG_STATUS}, timeout=10).json()["data"]
        health = httpx.get(f"{app}/_stcore/health", timeout=5).text.strip()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return False, f"not up yet: {type(exc).__name__}"
    mats = data["catalog"].get("assetMaterializations") or []
    if not mats:
        return False, "catalog not materialised yet"
    meta = {e["label"]: e.get("intValue") for e in mats[0]["metadataEntries"]}
    partitions = data["analysis"].get("partitionKeys") or []
    ok = meta.get("albums", 0) > 0 and len(partitions) == meta.get("albums") and health == "ok"
    return ok, (f"catalog materialised in run {mats[0]['runId'][:8]}: {meta.get('albums')} albums, "
                f"{meta.get('tracks')} tracks; {len(partitions)} album partitions; explorer health: {health}")




TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def dialog_backfill_params(node: dict) -> dict:
    """What dagster-webserver 1.13's partition dialog sends with every partition selected: its
    target is the asset's first job (sorted: the hidden __ASSET_JOB, hence a pure asset backfill);
    a named job would get a partition-set selector."""
    keys = node["partitionKeysByDimension"][0]["partitionKeys"]
    params = {"tags": [], "assetSelection": [{"path": ["track_analysis"]}], "partitionNames": keys,
              "fromFailure": False}
    job = node["jobNames"][0]
    if not job.startswith("__ASSET_JOB"):
        params["selector"] = {"partitionSetName": f"{job}_partition_set", "repositorySelector": {
            "repositoryLocationName": node["repository"]["location"]["name"],
            "repositoryName": node["repository"]["name"]}}
    return params


def graphql(dagster: str, query: str, variables: dict) -> dict:
    reply = httpx.post(f"{dagster}/graphql", json={"query": query, "variables": variables}, timeout=30).json()
    if reply.get("errors"):
        raise RuntimeError(reply["errors"][0].get("message", reply["errors"]))
    return reply["data"]


def backfill(dagster: str, wait: float) -> tuple[bool, str]:
    key = {"assetKey": {"path": ["track_analysis"]}}
    node = graphql(dagster, ASSET_FOR_LAUNCH, key)["assetNodeOrError"]
    launched = graphql(dagster, LAUNCH_BACKFILL, {"backfillParams": dialog_backfill_params(node)})
    launched = launched["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        return False, f"launchPartitionBackfill: {launched['__typename']}: {launched.get('message')}"
    backfill_id = launched["backfillId"]
    deadline = time.monotonic() + wait
    while True:
        status = graphql(dagster, BACKFILL_STATUS, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if status.get("status") in TERMINAL or time.monotonic() > deadline:
            break
        time.sleep(5)
    stats = graphql(dagster, ASSET_FOR_LAUNCH, key)["assetNodeOrError"]["partitionStats"]
    ok = status.get("status") in ("COMPLETED", "COMPLETED_SUCCESS") and stats["numMaterialized"] == stats["numPartitions"]
    return ok, (f"backfill {backfill_id} of {status.get('numPartitions')} partitions: {status.get('status')}; "
                f"track_analysis {stats['numMaterialized']}/{stats['numPartitions']} materialised, "
                f"{stats['numFailed']} failed")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dagster", default="http://127.0.0.1:3000")
    ap.add_argument("--app", default="http://127.0.0.1:8501")
    ap.add_argument("--wait", type=float, default=300)
    ap.add_argument("--backfill", action="store_true", help="then backfill every track_analysis partition")
    args = ap.parse_args()
    deadline = time.monotonic() + args.wait
    while True:
        ok, message = check(args.dagster, args.app)
        if ok or time.monotonic() > deadline:
            print(("OK: " if ok else "FAILED: ") + message)
            break
        time.sleep(2)
    if ok and args.backfill:
        ok, message = backfill(args.dagster, args.wait)
        print(("OK: " if ok else "FAILED: ") + message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
