"""Talk to the Dagster webserver over its GraphQL API (plain HTTP, no dagster import).

Lets the explorer's pipeline page show recent runs, launch analysis or clustering, and terminate a
run (the spec's task monitoring and cancellation) without running Dagster code in the app process.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from audiomuse_app.dagster_queries import (
    LAUNCH_MUTATION,
    LOCATION,
    REPOSITORY,
    RUNS_QUERY,
    TERMINATE_MUTATION,
)

class DagsterClientError(RuntimeError):
    """The webserver is unreachable or refused the request (the message says which)."""


@dataclass
class RunInfo:
    run_id: str
    job: str
    status: str
    start: float | None
    end: float | None
    tags: dict[str, str]
    assets: list[str]

    @property
    def partition(self) -> str | None:
        return self.tags.get("dagster/partition")


class DagsterClient:
    def __init__(self, url: str = "http://127.0.0.1:3000", timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def run_url(self, run_id: str) -> str:
        return f"{self.url}/runs/{run_id}"

    def _call(self, query: str, variables: dict) -> dict:
        try:
            response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables},
                                  timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise DagsterClientError(f"Dagster webserver at {self.url} is unreachable: {exc}") from None
        if response.status_code != 200:
            raise DagsterClientError(f"Dagster webserver answered HTTP {response.status_code}")
        body = response.json()
        if body.get("errors"):
            raise DagsterClientError("; ".join(e.get("message", "?") for e in body["errors"]))
        return body["data"]

    def recent_runs(self, limit: int = 20) -> list[RunInfo]:
        data = self._call(RUNS_QUERY, {"limit": limit})["runsOrError"]
        if data["__typename"] != "Runs":
            raise DagsterClientError(data.get("message", data["__typename"]))
        return [
            RunInfo(r["runId"], r["jobName"], r["status"], r.get("startTime"), r.get("endTime"),
                    {t["key"]: t["value"] for t in r["tags"]},
                    ["/".join(a["path"]) for a in (r.get("assetSelection") or [])])
            for r in data["results"]
        ]

    def launch_assets(self, assets: list[str], *, partition: str | None = None, run_config: dict | None = None,
                      tags: dict[str, str] | None = None) -> str:
        """Materialise ``assets`` (one partition if given); returns the run id."""
        all_tags = dict(tags or {})
        if partition:
            all_tags["dagster/partition"] = partition
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                         "jobName": "__ASSET_JOB", "assetSelection": [{"path": [a]} for a in assets]},
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
        }
        result = self._call(LAUNCH_MUTATION, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or "; ".join(e["message"] for e in result.get("errors", []))
            raise DagsterClientError(f"launch refused ({result['__typename']}): {detail}")
        return result["run"]["runId"]

    def terminate(self, run_id: str) -> str:
        result = self._call(TERMINATE_MUTATION, {"runId": run_id})["terminateRun"]
        if result["__typename"] != "TerminateRunSuccess":
            raise DagsterClientError(result.get("message", result["__typename"]))
        return result["run"]["status"]
