"""Pipeline: recent Dagster runs with links, and buttons to launch or terminate work."""

from datetime import datetime

import streamlit as st

from audiomuse_app.dagster_client import DagsterClient, DagsterClientError
from audiomuse_app.state import guard, settings

ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}


def page():
    st.title("Pipeline")
    client = DagsterClient(settings().dagster_url)
    try:
        runs = client.recent_runs(25)
    except DagsterClientError as exc:
        st.warning(f"Cannot reach Dagster: {exc}. Start it with `make run`.")
        return
    c1, c2, c3 = st.columns(3)
    if c1.button("Refresh catalog", help="Materialise `catalog`: new albums become partitions"):
        _launch(client, ["catalog"])
    if c2.button("Rebuild index and map"):
        _launch(client, ["similarity_index", "music_map"])
    if c3.button("Run clustering"):
        _launch(client, ["clustering_playlists"])
    st.subheader("Recent runs")
    if not runs:
        st.info("No runs yet.")
    for run in runs:
        label = run.job if run.job != "__ASSET_JOB" else ", ".join(run.assets) or "assets"
        when = datetime.fromtimestamp(run.start).strftime("%Y-%m-%d %H:%M:%S") if run.start else "not started"
        part = f" · album {run.partition}" if run.partition else ""
        cols = st.columns([5, 2, 2, 1])
        cols[0].markdown(f"[{label}{part}]({client.run_url(run.run_id)})")
        cols[1].write(run.status)
        cols[2].write(when)
        if run.status in ACTIVE and cols[3].button("Stop", key=f"stop_{run.run_id}"):
            try:
                st.success(f"Termination requested: {client.terminate(run.run_id)}")
            except DagsterClientError as exc:
                st.error(str(exc))


def _launch(client: DagsterClient, assets: list[str]) -> None:
    try:
        run_id = client.launch_assets(assets)
    except DagsterClientError as exc:
        st.error(f"Not launched: {exc}")
    else:
        st.success(f"Launched: [{run_id[:8]}]({client.run_url(run_id)})")


guard(page)
