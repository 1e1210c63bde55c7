"""Every explorer page in a real browser: headless Chromium against `streamlit run` on a seeded database.

AppTest runs the scripts without a front end; this catches what only the browser shows (a page that
fails to render, an exception box, an error alert). A screenshot of each page is kept under
``$AUDIOMUSE_CACHE/screenshots`` (default ~/.cache/audiomuse/screenshots) for a human to look at.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser-check installs it)"),
]

# (url path with query, heading the page must show, text proving it drew the seeded data,
#  plotly charts, tables).
# url paths are st.navigation's defaults: each page file's name; the default page is "/".
# Query parameters pre-select songs (widgets.song_picker), so the tool pages show real results.
PAGES = [
    ("", "Catalog", "Analysed", 0, 1),
    ("playlists", "Clustering playlists", "_automatic", 0, 3),
    ("recipes", "Recipes", "Rock radio", 0, 0),
    ("pipeline", "Pipeline", "Cannot reach Dagster", 0, 0),
    ("similar?similar_seed=roc03", "Similar songs", "songs like", 0, 1),
    ("path?path_start=roc01&path_end=amb01", "Song path", "typical neighbour step", 1, 1),
    ("alchemy?alchemy_add=roc05,roc07&alchemy_sub=roc11", "Song alchemy", "filtered out by the subtract set", 1, 1),
    ("music_map", "Music map", "90 songs", 1, 0),
    ("fingerprint", "Sonic fingerprint", "Make my fingerprint playlist", 0, 0),
    ("chat", "Instant playlist", None, 0, 0),
]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("streamlit did not become healthy")


@pytest.fixture
def explorer(seeded_app_db, monkeypatch, tmp_path):
    """`streamlit run` on the seeded database (plus stored clustering playlists and two recipes, one whose
    last refresh failed); yields its base URL."""
    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.playlists import clustering as core
    from audiomuse.recipes.model import Recipe
    from audiomuse.recipes.store import record_failure, record_refresh, save_recipe

    lib = core.load_clustering_tracks(seeded_app_db)
    result = core.search_playlists(lib, ClusteringParams(runs=20, k_min=2, k_max=4, min_playlist_size=5,
                                                         top_playlists=3, batch_size=10), seed=1)
    core.store_generation(seeded_app_db, "gen-1", result, [p.name for p in result.playlists])
    with seeded_app_db.connection() as conn:
        radio = save_recipe(conn, Recipe("Rock radio", "similar", {"track_id": "roc03"}, owner="ann", refresh="daily"))
        record_refresh(conn, radio.id, ["roc03", "roc04"], "pl-1")
        road = save_recipe(conn, Recipe("Road trip", "path", {"start_id": "roc01", "end_id": "amb01"}, owner="bob"))
        record_failure(conn, road.id, "the server refused the playlist")
    monkeypatch.setenv("AUDIOMUSE_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    port = free_port()
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "audiomuse_app" / "app.py"),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        stop_process(proc, 20)
        log.close()
        print((tmp_path / "streamlit.log").read_text(errors="replace")[-3000:])


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4): stdlib only."""

    def __init__(self, profile: Path):
        self._to_browser_r, self._to_browser_w = os.pipe()
        self._from_browser_r, self._from_browser_w = os.pipe()
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--window-size=1280,1800", "about:blank"],
            pass_fds=(3, 4), preexec_fn=self._map_fds,  # kept open after the fds are mapped
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(self._to_browser_r)
        os.close(self._from_browser_w)
        self._out = os.fdopen(self._to_browser_w, "wb", buffering=0)
        self._in = os.fdopen(self._from_browser_r, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)

    def _map_fds(self):  # in the child: the protocol expects its input on fd 3 and output on fd 4
        os.dup2(self._to_browser_r, 3)
        os.dup2(self._from_browser_w, 4)

    def call(self, method: str, session: bool = False, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = self._in.read(1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str):
        reply = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        return reply["result"].get("value")

    def open(self, url: str, heading: str, drawn: dict | None = None, timeout: float = 90) -> dict:
        """Load ``url`` and wait until the script run has finished with ``heading`` on screen and, when
        ``drawn`` is given (for example ``{"charts": 1, "tables": 1}``), those elements have drawn: on a
        loaded machine a table can arrive seconds after the script run ends."""
        self.call("Page.navigate", session=True, url=url)
        deadline, settled = time.monotonic() + timeout, 0
        state: dict = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            state = self.evaluate(PAGE_STATE) or {}
            done = state.get("script") == "notRunning" and heading in state.get("text", "")
            done = done and all(state.get(kind) == count for kind, count in (drawn or {}).items())
            settled = settled + 1 if done else 0
            if settled >= 3:  # 1.5 s with nothing running: charts and tables have drawn
                break
        return state

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=False)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()
        self._in.close()


# What the page shows: script state, main-area text, exception boxes and error alerts, charts.
PAGE_STATE = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  return {
    script: app ? app.dataset.testScriptState : null,
    text: main ? main.innerText : "",
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    errors: Array.from(document.querySelectorAll('[data-testid="stAlertContentError"]')).map(e => e.innerText),
    charts: document.querySelectorAll('.js-plotly-plot').length,
    tables: document.querySelectorAll('[data-testid="stDataFrame"]').length,
  };
})()"""


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()


NAV_LINKS = """Array.from(document.querySelectorAll('[data-testid="stSidebarNavLink"]'))
  .map(a => new URL(a.href).pathname.replace(/^\\//, ''))"""


def test_every_page_renders_in_a_real_browser_without_errors(explorer, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.open(f"{explorer}/", "Catalog")
    navigation = browser.evaluate(NAV_LINKS)
    known = {path.split("?")[0] for path, *_ in PAGES}
    assert known <= set(navigation), navigation  # the url paths above are the app's real ones
    # a page registered in app.py but not listed above still gets the generic checks
    pages = PAGES + [(path, None, None, None, None) for path in navigation if path not in known]
    problems = []
    for path, heading, evidence, charts, tables in pages:
        name = path.split("?")[0] or "catalog"
        drawn = {"charts": charts, "tables": tables} if heading is not None else None
        state = browser.open(f"{explorer}/{path}", heading or "", drawn)
        shot = SCREENSHOTS / f"{name}.png"
        browser.screenshot(shot)
        text = state.get("text", "")
        checks = {
            "script finished": state.get("script") == "notRunning",
            "page drew something": len(text.strip()) > 20,
            "no exception box": state.get("exceptions") == 0,
            "no error alert": not state.get("errors"),
            "screenshot saved": shot.stat().st_size > 10_000,
        }
        if heading is not None:
            checks.update({f"heading {heading!r}": heading in text, f"{charts} chart(s)": state.get("charts") == charts,
                           f"{tables} table(s)": state.get("tables") == tables})
        if evidence:
            checks[f"shows {evidence!r}"] = evidence in text
        failed = [c for c, ok in checks.items() if not ok]
        if failed:
            counts = {kind: state.get(kind) for kind in ("script", "exceptions", "errors", "charts", "tables")}
            problems.append(f"/{path}: {', '.join(failed)}; state: {json.dumps(counts)} {state.get('text', '')[:400]!r}")
    print(f"checked {len(pages)} pages; screenshots in {SCREENSHOTS}")
    assert not problems, "\n".join(problems)
