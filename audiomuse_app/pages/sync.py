"""Collection sync: read and accept the policy, then push/pull analysis rows with the remote database."""

import streamlit as st

from audiomuse.sync import (
    POLICY_TEXT,
    SyncError,
    accept_policy,
    masked_remote,
    policy_acceptance,
    remote_url,
    sync_collection,
    withdraw_policy,
)
from audiomuse_app.state import database, guard, settings


def page():
    st.title("Collection sync")
    db, cfg = database(), settings()
    st.markdown(POLICY_TEXT)
    accepted = _acceptance(db, cfg)

    remote = masked_remote(cfg)
    if remote:
        st.caption(f"Remote database: `{remote}`")
    else:
        st.warning("No remote database: set `SYNC_DATABASE_URL` to another AudioMuse database "
                   "(prepared with `python -m audiomuse.sync --prepare-remote`).")
    albums = st.number_input("Newest albums to sync (0 = all)", min_value=0, value=0, step=1, key="sync_albums")
    ready = accepted and remote is not None
    c1, c2, c3 = st.columns(3)
    direction = None
    if c1.button("Push", key="sync_push", disabled=not ready, help="Share what is analysed here"):
        direction = "push"
    if c2.button("Pull", key="sync_pull", disabled=not ready, help="Fetch analyses for tracks not analysed here"):
        direction = "pull"
    if c3.button("Push and pull", key="sync_both", disabled=not ready):
        direction = "both"
    if direction:
        _run(db, cfg, int(albums), direction)


def _acceptance(db, cfg) -> bool:
    if cfg.sync_accept_policy:
        st.success("Policy accepted in the configuration (`SYNC_ACCEPT_POLICY=true`).")
        return True
    stored = policy_acceptance(db)
    if stored:
        st.success(f"Policy accepted on {stored['accepted_at']:%Y-%m-%d %H:%M}.")
        if st.button("Withdraw acceptance", key="sync_withdraw"):
            withdraw_policy(db)
            st.rerun()
        return True
    agree = st.checkbox("I have read the policy above and accept it", key="sync_accept_box")
    if st.button("Accept", key="sync_accept", disabled=not agree):
        accept_policy(db)
        st.rerun()
    st.info("Sync is off until the policy is accepted: nothing is sent or received.")
    return False


def _run(db, cfg, albums: int, direction: str) -> None:
    error = None
    with st.status(f"Syncing ({direction})…", expanded=False) as status:
        try:
            report = sync_collection(db, remote_url(cfg), cfg, albums=albums, direction=direction,
                                     progress=st.write)
        except (SyncError, ConnectionError) as exc:
            error = str(exc)  # never holds a password: URLs are masked by the core
        status.update(label="Sync failed" if error else "Sync finished", state="error" if error else "complete")
    if error:
        st.error(error)
        return
    s = report.summary()
    cols = st.columns(4)
    cols[0].metric("Albums", s["albums"])
    cols[1].metric("Pushed", s["pushed"])
    cols[2].metric("Pulled", s["pulled"])
    cols[3].metric("Skipped", s["skipped"], help=f"{s['incompatible']} only from another model (refused)")
    st.dataframe(report.rows(), column_config={"album_id": None}, hide_index=True, width="stretch")
    if s["pulled"]:
        st.info("Pulled tracks count as analysed. Rebuild the index and map (Pipeline page) to use them.")


guard(page)
