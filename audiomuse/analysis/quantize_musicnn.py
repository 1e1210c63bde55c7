"""Build the int8 MusiCNN model from the committed fp32 ONNX file, calibrated on the sample library.

Static quantisation with onnxruntime's tools: QDQ format, int8 weights per output channel,
uint8 activations, ranges from MinMax calibration over log-mel patches of the real test music
(``CALIBRATION_TRACKS_PER_STYLE`` tracks of each style of ``manifest.json``, evenly spaced by
path, ``PATCHES_PER_TRACK`` evenly spaced patches of each, cut as the analyser cuts them: the
spec's decoder, ``log_mel``, hop-187 ``patches``). The same library and code give the same file
byte for byte. Needs ``onnx`` (the ``convert`` extra); the runtime only needs onnxruntime.

Usage: python -m audiomuse.analysis.quantize_musicnn [--library DIR] [--out FILE] [--format qdq|qoperator|dynamic]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from audiomuse.analysis.musicnn import INPUT, INT8_MODEL_PATH, MODEL_PATH, PATCH_FRAMES, log_mel, patches

DEFAULT_LIBRARY = Path("~/.cache/audiomuse/sample-library").expanduser()
CALIBRATION_TRACKS_PER_STYLE = 4
PATCHES_PER_TRACK = 16


def calibration_tracks(library: Path, per_style: int = CALIBRATION_TRACKS_PER_STYLE) -> list[dict]:
    """``per_style`` manifest entries of every style, evenly spaced in path order."""
    tracks = json.loads((library / "manifest.json").read_text())["tracks"]
    chosen = []
    for style in sorted({t["style"] for t in tracks}):
        of_style = sorted((t for t in tracks if t["style"] == style), key=lambda t: t["path"])
        idx = np.linspace(0, len(of_style) - 1, min(per_style, len(of_style))).round().astype(int)
        chosen += [of_style[i] for i in idx]
    return chosen


def calibration_patches(library: Path = DEFAULT_LIBRARY, per_style: int = CALIBRATION_TRACKS_PER_STYLE,
                        per_track: int = PATCHES_PER_TRACK) -> np.ndarray:
    """[N, 187, 96] float32 patches of the calibration tracks, made the way the analyser makes them."""
    from audiomuse.analysis.decode import load_audio

    out = []
    for track in calibration_tracks(library, per_style):
        p = patches(log_mel(load_audio(library / track["path"], sr=16000)))
        idx = np.linspace(0, len(p) - 1, min(per_track, len(p))).round().astype(int)
        out.append(p[np.unique(idx)])
    return np.concatenate(out).astype(np.float32)


def timbral_convolutions(model) -> list[str]:
    """Names of the two timbral convolutions (7 x 38 and 7 x 67 over the mel): the front-end Conv
    nodes (those reading the mel tensor, which five convolutions share) with a kernel wider than
    one mel bin. Found by data flow, not by name: tf2onnx names nodes differently run to run."""
    from collections import Counter

    weights = {i.name: tuple(i.dims) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    mel = Counter(n.input[0] for n in convs).most_common(1)[0][0]
    return [n.name for n in convs if n.input[0] == mel and weights[n.input[1]][3] > 1]


def _reader(batch: np.ndarray):
    from onnxruntime.quantization import CalibrationDataReader

    class PatchReader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batch)

        def get_next(self):
            p = next(self._it, None)
            return None if p is None else {INPUT: p[None]}

        def rewind(self):
            self._it = iter(batch)

    return PatchReader()


def quantize(out: Path, calibration: np.ndarray | None = None, fmt: str = "qdq", src: Path = MODEL_PATH,
             op_types: list[str] | None = None, method: str = "minmax", nodes: list[str] | str | None = "timbral") -> Path:
    """Write the quantised model to ``out`` (``fmt``: qdq / qoperator static, or dynamic).

    ``nodes="timbral"`` (the default, the committed file) quantises only the two timbral
    convolutions; ``None`` lets onnxruntime quantise every op it can (``op_types`` narrows that)."""
    import onnx

    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        # ONNX shape inference (and onnxruntime's basic fusions) so every Conv and MatMul is seen with its shapes
        quant_pre_process(str(src), str(pre), skip_optimization=False, skip_symbolic_shape=True)
        if nodes == "timbral":
            nodes = timbral_convolutions(onnx.load(str(pre)))
        if fmt == "dynamic":
            quantize_dynamic(str(pre), str(out), per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=op_types, nodes_to_quantize=nodes)
            return out
        if calibration is None:
            calibration = calibration_patches()
        quantize_static(
            str(pre), str(out), _reader(calibration),
            quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=op_types, nodes_to_quantize=nodes,
            calibrate_method={"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                              "entropy": CalibrationMethod.Entropy}[method],
            extra_options={"CalibTensorRangeSymmetric": False},
        )
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, default=DEFAULT_LIBRARY)
    ap.add_argument("--out", type=Path, default=INT8_MODEL_PATH)
    ap.add_argument("--format", choices=("qdq", "qoperator", "dynamic"), default="qdq")
    args = ap.parse_args(argv)
    cal = None if args.format == "dynamic" else calibration_patches(args.library)
    quantize(args.out, cal, args.format)
    print(f"{args.out}: sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}"
          + ("" if cal is None else f", calibrated on {len(cal)} patches of {PATCH_FRAMES} frames"))


if __name__ == "__main__":
    main()
