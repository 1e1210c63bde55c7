import logging

import pytest
from pydantic import ValidationError

from audiomuse.config import Settings, redact_url


def test_defaults_are_the_reference_implementation_s(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "none.toml"))
    s = Settings()
    assert (s.clustering_runs, s.num_clusters_min, s.num_clusters_max) == (5000, 40, 100)
    assert (s.score_weight_diversity, s.score_weight_purity) == (2.0, 1.0)
    assert s.media_server_type == "local" and s.num_recent_albums == 0
    assert s.database_url is None


def test_environment_overrides_toml_file(monkeypatch, tmp_path):
    cfg = tmp_path / "audiomuse.toml"
    cfg.write_text('clustering_runs = 123\nmedia_server_type = "jellyfin"\nnum_recent_albums = 7\n')
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(cfg))
    monkeypatch.setenv("NUM_RECENT_ALBUMS", "50")
    s = Settings()
    assert s.clustering_runs == 123
    assert s.media_server_type == "jellyfin"
    assert s.num_recent_albums == 50


def test_secrets_are_masked_everywhere(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MEDIA_SERVER_PASSWORD", "hunter2-pw")
    monkeypatch.setenv("AI_API_KEY", "sk-secret-key")
    monkeypatch.setenv("DATABASE_URL", "postgresql://am:dbpass99@db.example:5432/audiomuse")
    s = Settings()
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("settings: %s %r", s, s)
    shown = repr(s) + str(s) + str(s.public_dict()) + caplog.text
    for secret in ("hunter2-pw", "sk-secret-key", "dbpass99"):
        assert secret not in shown
    assert s.media_server_password.get_secret_value() == "hunter2-pw"
    assert s.public_dict()["database_url"] == "postgresql://am:***@db.example:5432/audiomuse"


def test_invalid_value_error_does_not_echo_input(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MEDIA_SERVER_TYPE", "s3cr3t-not-a-kind")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "s3cr3t-not-a-kind" not in str(err.value)
    assert "media_server_type" in str(err.value)


def test_redact_url_hides_password_and_query_secrets():
    assert redact_url("http://u:pw@h/x?u=bob&p=enc:abcd&t=ff") == "http://u:***@h/x?u=bob&p=***&t=***"


def test_redact_url_hides_keyword_form_passwords():
    """libpq's keyword form is a valid DATABASE_URL / SYNC_DATABASE_URL too."""
    assert redact_url("host=db user=x password=hunter2 dbname=y") == "host=db user=x password=*** dbname=y"
    assert "s3 cret" not in redact_url("host=db password='s3 cret' dbname=y")
    assert redact_url("dbname=y") == "dbname=y"
