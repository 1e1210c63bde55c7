"""Check a running `make run`: the Dagster webserver lists `catalog` materialised, one `albums`
partition per album of the library, and the explorer app answers.

Usage: python scripts/check_ui.py [--dagster http://127.0.0.1:3000] [--app http://127.0.0.1:8501] [--wait 300]
Exit code 0 when everything is there; prints what it found either way.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx

QUERY = """
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


def check(dagster: str, app: str) -> tuple[bool, str]:
    try:
        data = httpx.post(f"{dagster}/graphql", json={"query": QUERY}, timeout=10).json()["data"]
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dagster", default="http://127.0.0.1:3000")
    ap.add_argument("--app", default="http://127.0.0.1:8501")
    ap.add_argument("--wait", type=float, default=300)
    args = ap.parse_args()
    deadline = time.monotonic() + args.wait
    while True:
        ok, message = check(args.dagster, args.app)
        if ok or time.monotonic() > deadline:
            print(("OK: " if ok else "FAILED: ") + message)
            return 0 if ok else 1
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
