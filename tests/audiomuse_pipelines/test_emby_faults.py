"""Wrong Emby credentials in a real Dagster catalog run (the same check test_faults.py makes for the
other servers): the run fails with one clear error naming the server, and the password appears in
no event, run record or compute log."""

from __future__ import annotations

from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.emby import EmbyFake
from tests.audiomuse_pipelines.test_faults import SECRET, USER, _catalog_with_wrong_credentials


def test_wrong_emby_password_fails_the_catalog_clearly_without_the_secret(resources, dagster_instance, caplog):
    with EmbyFake("", sample_library(), user=USER, password=SECRET) as fake:
        message = _catalog_with_wrong_credentials("emby", fake.url, resources, dagster_instance, caplog)
    assert message.count("Emby server at") == 1 and f"for user '{USER}'" in message
