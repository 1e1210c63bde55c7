"""`make run`: database, first materialisation, then the Dagster UI, daemon and Streamlit app.

Every service runs in its own process group; Ctrl-C (or SIGTERM) stops them all, then the
embedded PostgreSQL this launcher started, so nothing is left running.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from audiomuse.config import Settings, get_settings
from audiomuse.store import Database, database_urls, stop_embedded_server
from audiomuse.store.server import DatabaseUrls, with_driver

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("audiomuse_run.launcher")
DAGSTER_DATABASE = "dagster"


def prepare(materialize: bool = True) -> dict[str, str]:
    """Start the database, migrate, write DAGSTER_HOME; returns the environment for the services."""
    settings = get_settings()
    urls = database_urls(settings)
    Database(urls.app).migrate()
    dagster_home = settings.data_dir / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    write_instance_config(dagster_home / "dagster.yaml", settings.analysis_workers)
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_PG_URL=dagster_storage_url(settings, urls),
        DATABASE_URL=urls.app,
        AUDIOMUSE_DATA_DIR=str(settings.data_dir),
    )
    if materialize:
        log.info("materialising the catalog from the %s provider", settings.media_server_type)
        subprocess.run(
            [_bin("dagster"), "asset", "materialize", "--select", "catalog",
             "-m", "audiomuse_pipelines.definitions"],
            env=env, cwd=ROOT, check=True,
        )
    return env


def instance_config(workers: int) -> dict:
    """The repository's dagster.yaml with its analysis concurrency set to ``workers``
    (ANALYSIS_WORKERS): the `analysis` pool of track_analysis steps, the analysis runs' tag
    limit, and room for one library run (index, map, clustering) beside them."""
    import yaml

    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    limits = config["concurrency"]
    limits["pools"]["default_limit"] = workers
    for limit in limits["runs"]["tag_concurrency_limits"]:
        if (limit["key"], limit.get("value")) == ("audiomuse/kind", "analysis"):
            limit["limit"] = workers
    limits["runs"]["max_concurrent_runs"] = workers + 1
    return config


def write_instance_config(path: Path, workers: int) -> None:
    import yaml

    header = (f"# Written by `make run` from the repository's dagster.yaml (see its comments), with\n"
              f"# ANALYSIS_WORKERS={workers} concurrent album analyses. Edit that file, not this one.\n")
    path.write_text(header + yaml.safe_dump(instance_config(workers), sort_keys=False))


def dagster_storage_url(settings: Settings, urls: DatabaseUrls) -> str:
    """Dagster's own storage: ``DAGSTER_PG_URL``, else a ``dagster`` database beside the app's on the
    embedded server, else the app database itself (an external server without a database of its own)."""
    if settings.dagster_pg_url is not None:
        url = settings.dagster_pg_url.get_secret_value()
    else:
        url = urls.of_database(DAGSTER_DATABASE) if urls.embedded else urls.app
    # dagster-postgres + SQLAlchemy 2.1 breaks on psycopg 3 ("NOTIFY run_events, $1"): use psycopg2.
    return with_driver(url, "psycopg2")


def _bin(name: str) -> str:
    """A console script of this venv (the launcher may run without the venv activated)."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


OPTIONAL_SERVICES = {"sonic-api"}  # its exit does not stop the others


def service_commands(dagster_port: int, app_port: int, host: str, sonic_port: int | None = None) -> dict[str, list[str]]:
    workspace = str(ROOT / "workspace.yaml")
    sonic_port = get_settings().sonic_port if sonic_port is None else sonic_port
    return {
        "dagster-webserver": [_bin("dagster-webserver"), "-h", host, "-p", str(dagster_port), "-w", workspace],
        "dagster-daemon": [_bin("dagster-daemon"), "run", "-w", workspace],
        "streamlit": [
            _bin("streamlit"), "run", str(ROOT / "audiomuse_app" / "app.py"),
            "--server.port", str(app_port), "--server.address", host,
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        "sonic-api": [sys.executable, "-m", "audiomuse_api", "--host", host, "--port", str(sonic_port)],
    }


def serve(env: dict[str, str], dagster_port: int, app_port: int, host: str) -> int:
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    env = {**env, "AUDIOMUSE_DAGSTER_URL": f"http://{_reachable(host)}:{dagster_port}"}  # the pipeline page
    try:
        for name, cmd in service_commands(dagster_port, app_port, host).items():
            procs[name] = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
        print(f"\nAudioMuse is up:\n  Dagster UI     http://localhost:{dagster_port}\n"
              f"  Explorer app   http://localhost:{app_port}\n"
              f"  Subsonic front http://localhost:{get_settings().sonic_port}/rest (sonicSimilarity)\n"
              "Ctrl-C stops everything.\n", flush=True)
        reported: set[str] = set()
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None and name in OPTIONAL_SERVICES:
                    if name not in reported:  # e.g. its port is taken: the UIs keep running
                        log.error("%s exited with code %s; the other services keep running", name, proc.returncode)
                        reported.add(name)
                elif proc.poll() is not None:
                    log.error("%s exited with code %s; stopping the rest", name, proc.returncode)
                    stopping = True
            time.sleep(0.5)
    finally:
        terminate(procs.values())
    return 0


def _reachable(host: str) -> str:
    """The address a local process reaches a server on that listens on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def terminate(procs, grace: float = 15.0) -> None:
    """SIGTERM each process group, then SIGKILL whatever is left after ``grace`` seconds."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # also reaps grandchildren (run workers, grpc servers)
        except ProcessLookupError:
            pass


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dagster-port", type=int, default=settings.dagster_port)
    parser.add_argument("--app-port", type=int, default=settings.app_port)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--no-materialize", action="store_true", help="skip the first catalog run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    embedded = settings.database_url is None
    try:
        env = prepare(materialize=not args.no_materialize)
        return serve(env, args.dagster_port, args.app_port, args.host)
    finally:
        if embedded and stop_embedded_server(settings.pgdata_dir):
            log.info("embedded PostgreSQL stopped")


if __name__ == "__main__":
    sys.exit(main())
