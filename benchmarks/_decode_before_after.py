"""Our streaming loader before and after the in-process routes, same files, same run: an
older ``decode.py`` (the path given as the argument) against this checkout's, interleaved, least of 3 passes.

Usage: python benchmarks/_decode_before_after.py /path/to/main/audiomuse/analysis/decode.py
"""

import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import _decoders as d  # noqa: E402
from benchmarks.decode import cpu, format_files  # noqa: E402


def main() -> None:
    spec = importlib.util.spec_from_file_location("old_decode", sys.argv[1])
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    new = d.dec
    for label, files in format_files(8).items():
        if not label.startswith(("FLAC", "Opus", "AAC")):
            continue
        audio = sum(len(new.load_audio(f)) for f in files) / 16000
        best = {"before": float("inf"), "after": float("inf")}
        for _ in range(3):
            for name, mod in (("before", old), ("after", new)):
                t = cpu()
                for f in files:
                    mod.decode_stream(f, d.CountSink)
                best[name] = min(best[name], cpu() - t)
        b, a = (1000 * best[k] / audio for k in ("before", "after"))
        print(f"| {label} | {len(files)} | {b:.2f} | {a:.2f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
