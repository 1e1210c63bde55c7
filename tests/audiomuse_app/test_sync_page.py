"""The Collection sync page against real PostgreSQL: the app's database and a remote hub."""

import pytest
from streamlit.testing.v1 import AppTest

from audiomuse.config import get_settings
from audiomuse.sync import policy_acceptance
from tests.audiomuse.test_sync import hub, make_library, shared_rows, with_password  # noqa: F401 - hub is a fixture
from tests.audiomuse_app.apptest import open_page


@pytest.fixture
def sync_app(app_db, hub, monkeypatch):  # noqa: F811
    """The app with an analysed library and SYNC_DATABASE_URL carrying a password (the test server
    trusts any password, so it connects and the page must still mask it)."""
    make_library(app_db, "alice", analysed=True)
    monkeypatch.setenv("SYNC_DATABASE_URL", with_password(hub.url, "s3cret-pw"))
    get_settings.cache_clear()
    return app_db


def _open() -> AppTest:
    return open_page("sync")


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.info] + [m.value for m in at.caption]
    parts += [m.value for m in at.success] + [m.value for m in at.warning] + [m.value for m in at.error]
    return "\n".join(str(p) for p in parts)


def test_page_shows_policy_and_masked_url_and_keeps_sync_off(sync_app, hub):  # noqa: F811
    at = _open()
    text = _text(at)
    assert "What is never sent" in text and "Sync is off" in text
    assert "s3cret-pw" not in text and ":***@" in text
    assert at.button(key="sync_push").disabled and at.button(key="sync_both").disabled
    assert at.button(key="sync_accept").disabled  # until the box is ticked
    assert shared_rows(hub) == []


def test_accepting_stores_it_and_push_shares_the_newest_albums(sync_app, hub):  # noqa: F811
    at = _open()
    at.checkbox(key="sync_accept_box").check().run()
    at.button(key="sync_accept").click().run()
    assert not at.exception, at.exception
    assert policy_acceptance(sync_app) is not None
    assert not at.button(key="sync_push").disabled
    at.number_input(key="sync_albums").set_value(2).run()
    at.button(key="sync_push").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][-4:] == ["2", "5", "0", "0"]
    rows = at.dataframe[0].value
    assert list(rows["name"]) == ["Silent Shout", "Melody A.M."]
    assert len(shared_rows(hub)) == 5
    assert "s3cret-pw" not in _text(at)


def test_withdrawing_turns_sync_off_again(sync_app):
    from audiomuse.sync import accept_policy

    accept_policy(sync_app)
    at = _open()
    assert not at.button(key="sync_pull").disabled
    at.button(key="sync_withdraw").click().run()
    assert policy_acceptance(sync_app) is None
    assert at.button(key="sync_pull").disabled


def test_page_without_remote_says_how_to_configure_it(app_db):
    at = _open()
    assert "SYNC_DATABASE_URL" in _text(at)
