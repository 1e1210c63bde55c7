"""Production deployment files: what can be checked without a Docker engine or a cluster.

The instance files load as real Dagster instances on a real PostgreSQL; the compose services'
commands point at modules and files that exist and import; the image's runtime stage has no
TensorFlow; the Helm values use the chart's keys and the real code location module.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
CODE_MODULE = "audiomuse_pipelines.definitions"


def _load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def _open_instance(tmp_path: Path, config_file: Path, env: dict, monkeypatch):
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(config_file.read_text())
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _check_policies(instance, analysis_limit: int):
    from dagster._core.run_coordinator import QueuedRunCoordinator

    from audiomuse_pipelines.defs.analysis import ANALYSIS_TAGS
    from audiomuse_pipelines.defs.similarity import LIBRARY_TAGS

    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    tag_limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    limits = {(l["key"], l["value"]): l["limit"] for l in tag_limits if isinstance(l["value"], str)}
    assert limits == {next(iter(ANALYSIS_TAGS.items())): analysis_limit, next(iter(LIBRARY_TAGS.items())): 1}
    _check_one_run_per_album(tag_limits)
    assert instance.get_concurrency_config().pool_config.default_pool_limit == analysis_limit
    assert instance.run_monitoring_enabled and instance.run_retries_enabled
    assert instance.run_retries_max_retries == 1
    assert instance.run_retries_retry_on_asset_or_op_failure is False  # step retries handle those
    assert instance.get_runs() == []  # the storage really is connected and migrated


def _check_one_run_per_album(tag_limits) -> None:
    """Dagster's own queue counter with these limits: while an album's run is in progress, a second
    run of that album waits in the queue; other albums' runs do not."""
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._utils.tags import TagConcurrencyLimitsCounter

    def run(album):
        return DagsterRun(job_name="__ASSET_JOB", tags={"dagster/partition": album, "dagster/backfill": "b1"})

    counter = TagConcurrencyLimitsCounter(list(tag_limits), [run("album-1")])
    assert counter.is_blocked(run("album-1"))
    assert not counter.is_blocked(run("album-2"))


def test_dev_instance_loads_from_dagster_pg_url(tmp_path, monkeypatch, pg_admin_url):
    """dagster.yaml (`make run`): storage from DAGSTER_PG_URL."""
    from audiomuse.store.server import with_database, with_driver
    from tests.conftest import create_database, drop_database

    name = create_database(pg_admin_url)
    try:
        url = with_driver(with_database(pg_admin_url, name), "psycopg2")
        instance = _open_instance(tmp_path, ROOT / "dagster.yaml", {"DAGSTER_PG_URL": url}, monkeypatch)
        with instance:
            _check_policies(instance, analysis_limit=2)
    finally:
        drop_database(pg_admin_url, name)


def test_make_run_instance_sets_the_analysis_concurrency_from_analysis_workers(tmp_path, monkeypatch, pg_admin_url):
    """The launcher writes dagster.yaml into DAGSTER_HOME with ANALYSIS_WORKERS album analyses at
    once; everything else is the repository's file."""
    from audiomuse.store.server import with_database, with_driver
    from audiomuse_run.launcher import write_instance_config
    from tests.conftest import create_database, drop_database

    written = tmp_path / "written.yaml"
    write_instance_config(written, 5)
    name = create_database(pg_admin_url)
    try:
        url = with_driver(with_database(pg_admin_url, name), "psycopg2")
        instance = _open_instance(tmp_path, written, {"DAGSTER_PG_URL": url}, monkeypatch)
        with instance:
            _check_policies(instance, analysis_limit=5)
            assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 6
    finally:
        drop_database(pg_admin_url, name)
    repo, ours = _load_yaml(ROOT / "dagster.yaml"), _load_yaml(written)
    del repo["concurrency"], ours["concurrency"]
    assert ours == repo


def test_container_instance_loads_from_separate_pg_settings(tmp_path, monkeypatch, pg_admin_url):
    """docker/dagster.yaml: host, port, database, user and password from separate variables."""
    from tests.conftest import create_database, drop_database

    name = create_database(pg_admin_url)
    info = conninfo_to_dict(pg_admin_url)
    host, port = info.get("host", "localhost"), info.get("port")
    if host.startswith("/"):  # the embedded server listens on a socket only: libpq finds it
        port = port or next(Path(host).glob(".s.PGSQL.*")).suffix.lstrip(".")  # through PGHOST when
        monkeypatch.setenv("PGHOST", host)  # the URL's host is empty
        host = ""
    env = {"DAGSTER_PG_HOST": host, "DAGSTER_PG_PORT": str(port or 5432), "DAGSTER_PG_DB": name,
           "DAGSTER_PG_USER": info.get("user", "postgres"), "DAGSTER_PG_PASSWORD": info.get("password", "")}
    try:
        instance = _open_instance(tmp_path, DOCKER / "dagster.yaml", env, monkeypatch)
        with instance:
            _check_policies(instance, analysis_limit=2)
            assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
    finally:
        drop_database(pg_admin_url, name)
    compose_env = _load_yaml(DOCKER / "compose.yaml")["x-audiomuse"]["environment"]
    referenced = set(re.findall(r"env: (\w+)", (DOCKER / "dagster.yaml").read_text()))
    assert referenced == set(env) and referenced <= set(compose_env)


def test_runs_carry_the_tags_the_limits_count():
    """The queue limits count run tags: the analysis job and the library automation must set them,
    or the caps would never apply; the pool catches analysis runs without them."""
    import dagster as dg

    from audiomuse_pipelines.defs.analysis import ANALYSIS_TAGS, analyse_album_job, track_analysis
    from audiomuse_pipelines.defs.similarity import LIBRARY_TAGS, library_automation

    assert analyse_album_job.tags == ANALYSIS_TAGS
    assert library_automation.run_tags == LIBRARY_TAGS
    for path in (ROOT / "dagster.yaml", DOCKER / "dagster.yaml"):
        tag_limits = _load_yaml(path)["concurrency"]["runs"]["tag_concurrency_limits"]
        assert {(l["key"], l["value"]) for l in tag_limits if isinstance(l["value"], str)} == {
            *ANALYSIS_TAGS.items(), *LIBRARY_TAGS.items()}
        _check_one_run_per_album(tag_limits)
    assert track_analysis.op.pool == "analysis"
    assert isinstance(track_analysis.op.retry_policy, dg.RetryPolicy)
    assert track_analysis.op.retry_policy.max_retries >= 2


# -- compose -----------------------------------------------------------------------------------------

AUDIOMUSE_SERVICES = {"user-code", "dagster-webserver", "dagster-daemon", "app"}


def _image_path(path: str) -> Path:
    """Where a path inside the image comes from in this repository (see docker/Dockerfile)."""
    if path == "/app/workspace.yaml":
        return DOCKER / "workspace.yaml"
    site = "/opt/venv/lib/python3.11/site-packages/"
    if path.startswith(site):
        return ROOT / path[len(site):]
    raise AssertionError(f"unknown image path {path}")


def test_compose_services_run_existing_entry_points():
    compose = _load_yaml(DOCKER / "compose.yaml")
    services = compose["services"]
    assert AUDIOMUSE_SERVICES | {"postgres"} == set(services)
    grpc = services["user-code"]["command"]
    assert grpc[:3] == ["dagster", "api", "grpc"]
    module = grpc[grpc.index("-m") + 1]
    assert module == CODE_MODULE and hasattr(importlib.import_module(module), "defs")
    port = int(grpc[grpc.index("-p") + 1])
    workspace = _load_yaml(DOCKER / "workspace.yaml")["load_from"][0]["grpc_server"]
    assert workspace == {"host": "user-code", "port": port, "location_name": "audiomuse"}
    for name in ("dagster-webserver", "dagster-daemon"):
        cmd = services[name]["command"]
        assert _image_path(cmd[cmd.index("-w") + 1]).exists()
        assert services[name]["depends_on"]["user-code"] == {"condition": "service_healthy"}
    app = services["app"]["command"]
    assert app[:2] == ["streamlit", "run"] and _image_path(app[2]) == ROOT / "audiomuse_app" / "app.py"
    assert (ROOT / "audiomuse_app" / "app.py").exists()
    for name in AUDIOMUSE_SERVICES:
        assert services[name]["image"] == "audiomuse:latest"
        assert "audiomuse-data:/data" in services[name]["volumes"]
    initdb = (DOCKER / "initdb" / "10-dagster-db.sql").read_text()
    assert "CREATE DATABASE dagster" in initdb
    assert compose["x-audiomuse"]["environment"]["DAGSTER_PG_DB"] == "dagster"


def test_compose_environment_is_real_settings_and_documented():
    """Every variable the containers get is one AudioMuse or the instance file reads, and every
    `${VAR}` a user may set is documented in the file's header."""
    from audiomuse.config import Settings

    text = (DOCKER / "compose.yaml").read_text()
    env = _load_yaml(DOCKER / "compose.yaml")["x-audiomuse"]["environment"]
    settings = {str(field.validation_alias or name).upper() for name, field in Settings.model_fields.items()}
    for key in env:
        assert key in settings or key.startswith("DAGSTER_"), key
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    for var in set(re.findall(r"\$\{(\w+)", text)):
        assert var in header, f"{var} is not documented in compose.yaml"


def _compose_settings(service: str, monkeypatch):
    """The settings a compose service's process reads: its environment, `${VAR:-default}` at its default."""
    from audiomuse.config import Settings

    env = _load_yaml(DOCKER / "compose.yaml")["services"][service]["environment"]
    for key in list(os.environ):
        if key in env or key.startswith(("AUDIOMUSE_", "MEDIA_SERVER_", "AI_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value)))
    return Settings()


def test_the_pipeline_page_reaches_the_webserver_in_compose(monkeypatch):
    """The explorer container's settings name the webserver service on the port it listens on."""
    from urllib.parse import urlsplit

    from audiomuse_app.dagster_client import DagsterClient

    services = _load_yaml(DOCKER / "compose.yaml")["services"]
    webserver = services["dagster-webserver"]["command"]
    target = urlsplit(DagsterClient(_compose_settings("app", monkeypatch).dagster_url).url)
    assert target.hostname == "dagster-webserver" and target.hostname in services
    assert target.port == int(webserver[webserver.index("-p") + 1])
    assert webserver[webserver.index("-h") + 1] == "0.0.0.0"  # reachable from the app's container


# -- Dockerfile --------------------------------------------------------------------------------------

def _stages(dockerfile: str) -> dict[str, list[str]]:
    stages, current = {}, None
    for line in dockerfile.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+\S+\s+AS\s+(\w+)", line, re.IGNORECASE)
        if m:
            current = m.group(1)
            stages[current] = []
        elif current:
            stages[current].append(line)
    return stages


def test_dockerfile_is_multi_stage_and_runtime_has_no_tensorflow():
    import tomllib

    stages = _stages((DOCKER / "Dockerfile").read_text())
    assert list(stages) == ["build", "runtime"]
    runtime = " ".join(stages["runtime"]).lower()
    assert "tensorflow" not in runtime and "tf2onnx" not in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in stages["runtime"]
    install = next(l for l in stages["build"] if "uv pip install" in l)
    assert "[convert]" not in install and "tensorflow" not in install
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.lower().startswith(("tensorflow", "tf2onnx", "tf-keras"))]
    # every COPY source exists in the build context (the repository root)
    for line in stages["build"] + stages["runtime"]:
        if line.startswith("COPY") and "--from" not in line:
            for src in shlex.split(line)[1:-1]:
                assert (ROOT / src).exists(), src
    assert "COPY docker/dagster.yaml $DAGSTER_HOME/dagster.yaml" in stages["runtime"]


# -- Helm --------------------------------------------------------------------------------------------

# Top-level keys of the `dagster/dagster` chart's values (helm/dagster/schema .../values.py).
CHART_KEYS = {
    "dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox", "migrate",
    "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig", "concurrency",
}


def test_helm_values_use_chart_keys_and_the_real_code_location():
    from audiomuse_pipelines.defs.analysis import ANALYSIS_TAGS
    from audiomuse_pipelines.defs.similarity import LIBRARY_TAGS

    values = _load_yaml(HELM_VALUES)
    assert set(values) <= CHART_KEYS
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("-m") + 1] == CODE_MODULE
    assert hasattr(importlib.import_module(CODE_MODULE), "defs")
    assert deployment["port"] == 4000
    assert deployment["envSecrets"] == values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and "postgresqlPassword" not in values["postgresql"]
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    tag_limits = coordinator["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {(l["key"], l["value"]) for l in tag_limits if isinstance(l["value"], str)} == {
        *ANALYSIS_TAGS.items(), *LIBRARY_TAGS.items()}
    _check_one_run_per_album(tag_limits)  # the chart passes these to the same counter
    assert values["concurrency"]["enabled"] and values["concurrency"]["pools"]["defaultLimit"] >= 2
    assert values["dagsterDaemon"]["runRetries"]["enabled"] and values["dagsterDaemon"]["runMonitoring"]["enabled"]
    env_names = {e["name"] for e in deployment["env"]}
    assert not env_names & {"DATABASE_URL", "MEDIA_SERVER_PASSWORD", "MEDIA_SERVER_TOKEN", "AI_API_KEY"}


# -- the image's entry point, for real -----------------------------------------------------------------

@pytest.mark.slow
def test_user_code_grpc_server_serves_the_definitions(tmp_path):
    """The user-code container's command starts a gRPC server that the webserver can load, and
    the compose healthcheck's command sees it healthy."""
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._utils import find_free_port

    port = find_free_port()
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    cmd = _load_yaml(DOCKER / "compose.yaml")["services"]["user-code"]["command"]
    cmd = [str(Path(sys.executable).parent / cmd[0]), *cmd[1:]]
    cmd[cmd.index("-h") + 1], cmd[cmd.index("-p") + 1] = "127.0.0.1", str(port)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        for _ in range(240):  # loading the definitions takes a while on a busy machine
            if proc.poll() is not None:
                pytest.fail(f"gRPC server exited: {proc.stdout.read()}")
            try:
                if client.ping("x")["echo"] == "x":
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.5)
        else:
            pytest.fail("gRPC server never answered")
        health = _load_yaml(DOCKER / "compose.yaml")["services"]["user-code"]["healthcheck"]["test"][1:]
        health = [str(Path(sys.executable).parent / health[0]), *health[1:]]
        health[health.index("-p") + 1] = str(port)
        check = subprocess.run(health, env=env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr  # compose's healthcheck passes
        from dagster._serdes import deserialize_value

        repos = deserialize_value(client.list_repositories())
        assert [s.repository_name for s in repos.repository_symbols] == ["__repository__"]
        assert repos.executable_path and Path(repos.executable_path).exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
