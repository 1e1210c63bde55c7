"""Opening the explorer under Streamlit's AppTest, shared by the page tests."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "audiomuse_app" / "app.py")


def open_page(page: str | None = None) -> AppTest:
    """The app run once, then switched to ``pages/<page>.py`` (the default page when None);
    fails the test if a script raised."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, at.exception
    return at
