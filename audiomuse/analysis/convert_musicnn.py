"""Convert a trained checkpoint of the ``musicnn`` PyPI package to ONNX, once.

Needs the conversion venv (``make convert-venv``: tensorflow-cpu, tf2onnx, musicnn installed with
--no-deps); the runtime only needs onnxruntime. musicnn's own graph code needs TF1 layers, so the
forward pass is rebuilt here with plain ``tf.nn`` ops, every weight read from the checkpoint and
baked in as a constant (a frozen graph), with Essentia's node names so the .pb is a drop-in for
Essentia's ``TensorflowPredictMusiCNN``:

    input   model/Placeholder      [N, 187, 96]  log-mel patches
    output  model/Sigmoid          [N, 50]       MSD tag probabilities
    output  model/dense/BiasAdd    [N, 200]      the embedding (pre-ReLU dense layer)

The analysis runs MSD_musicnn (committed as models/msd-musicnn.onnx). The package's other weights,
converted the same way for the similarity benchmark only (``--model``; written to
~/.cache/audiomuse/models by default, not committed): MTT_musicnn (same architecture, MagnaTagATune's
50 tags) and MSD_vgg / MTT_vgg (musicnn's 5-block VGG, whose features musicnn exposes as pool1-5;
the embedding is the last, ``model/flatten/Reshape`` [N, 256], pool5 flattened, Essentia's name).

Usage: python -m audiomuse.analysis.convert_musicnn [--model MTT_vgg] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

INPUT = "model/Placeholder"
OUTPUT_TAGS = "model/Sigmoid"
OUTPUT_EMBEDDING = "model/dense/BiasAdd"
VGG_OUTPUT_EMBEDDING = "model/flatten/Reshape"
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
DEFAULT_MODEL = "MSD_musicnn"
# the extra models are benchmark material, kept out of the package
EXTRA_MODELS_DIR = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "models"
PATCH_FRAMES, N_MELS = 187, 96
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
# onnxruntime pools in its blocked (NCHWc) layout only when the channels fill whole blocks: 16 with
# AVX-512, 8 with AVX2
CHANNEL_BLOCK = 16


def is_vgg(model: str) -> bool:
    return model.endswith("_vgg")


def embedding_output(model: str = DEFAULT_MODEL) -> str:
    return VGG_OUTPUT_EMBEDDING if is_vgg(model) else OUTPUT_EMBEDDING


def onnx_name(model: str = DEFAULT_MODEL) -> str:
    """'MSD_musicnn' -> 'msd-musicnn.onnx'."""
    return model.lower().replace("_", "-") + ".onnx"


def checkpoint_prefix(model: str = DEFAULT_MODEL) -> str:
    import musicnn

    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    # The package's `checkpoint` file points at its author's machine; the prefix itself is the folder.
    return str(Path(musicnn.__file__).parent / model) + "/"


def read_weights(model: str = DEFAULT_MODEL) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(checkpoint_prefix(model))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "Adam" not in name and not name.startswith("beta")
    }


def _suffix(i: int) -> str:
    """The checkpoint's layer numbering: ``conv2d``, ``conv2d_1``, ..."""
    return "" if i == 0 else f"_{i}"


def build_graph(weights: dict[str, np.ndarray], pool_first: bool = False):
    """The MSD_musicnn forward pass (inference mode) as a frozen tf.Graph.

    ``pool_first=False`` is musicnn's layer order: the reference, and the ``.pb`` for Essentia.
    ``pool_first=True`` is the graph converted to ONNX: the same function with each front-end block
    pooled before its batch norm (``pooled_front_block``), 1.35x less CPU per patch in onnxruntime."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()

    def const(name):
        return tf.constant(weights[name])

    def bn(x, i):
        prefix = "batch_normalization" + _suffix(i)
        mean, var = const(f"{prefix}/moving_mean"), const(f"{prefix}/moving_variance")
        gamma, beta = const(f"{prefix}/gamma"), const(f"{prefix}/beta")
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, BN_EPSILON)

    def conv(x, i, padding):
        prefix = "conv2d" + _suffix(i)
        y = tf.nn.conv2d(x, const(f"{prefix}/kernel"), strides=[1, 1, 1, 1], padding=padding)
        return tf.nn.relu(tf.nn.bias_add(y, const(f"{prefix}/bias")))

    def pool_freq(x):
        return tf.squeeze(tf.reduce_max(x, axis=2, keepdims=True), [2])

    def front_block(x, i, padding):
        if pool_first:
            return pooled_front_block(x, weights, i, padding)
        return pool_freq(bn(conv(x, i, padding), i + 1))

    def pad_time(x):
        return tf.pad(x, [[0, 0], [3, 3], [0, 0], [0, 0]])

    with graph.as_default(), tf1.name_scope("model"):
        x = tf1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS], name="Placeholder")
        # front end: timbral (7x38, 7x67 over frequency) and temporal (128/64/32 x 1) filters
        norm = bn(tf.expand_dims(x, 3), 0)
        padded = pad_time(norm)
        f74 = front_block(padded, 0, "VALID")
        f77 = front_block(padded, 1, "VALID")
        s1 = front_block(norm, 2, "SAME")
        s2 = front_block(norm, 3, "SAME")
        s3 = front_block(norm, 4, "SAME")
        front = tf.expand_dims(tf.concat([f74, f77, s1, s2, s3], 2), 3)  # [N, T, 561, 1]
        # mid end: three 7-frame convolutions with residual connections
        c1 = tf.transpose(bn(conv(pad_time(front), 5, "VALID"), 6), [0, 1, 3, 2])
        c2 = tf.transpose(bn(conv(pad_time(c1), 6, "VALID"), 7), [0, 1, 3, 2]) + c1
        c3 = tf.transpose(bn(conv(pad_time(c2), 7, "VALID"), 8), [0, 1, 3, 2]) + c2
        mid = tf.concat([front, c1, c2, c3], 2)  # [N, T, 753, 1]
        # back end: max and mean over time, dense 200 (the embedding), dense 50, sigmoid
        pooled = tf.concat([tf.reduce_max(mid, axis=1), tf.reduce_mean(mid, axis=1)], 2)
        flat = bn(tf.reshape(pooled, [-1, 753 * 2]), 9)
        with tf1.name_scope("dense"):
            embedding = tf.nn.bias_add(tf.matmul(flat, const("dense/kernel")), const("dense/bias"), name="BiasAdd")
        hidden = bn(tf.nn.relu(embedding), 10)
        logits = tf.nn.bias_add(tf.matmul(hidden, const("dense_1/kernel")), const("dense_1/bias"))
        tf.nn.sigmoid(logits, name="Sigmoid")
    return graph


def pooled_front_block(x, weights: dict[str, np.ndarray], i: int, padding: str):
    """Front-end block ``i``, ``max_f(bn(relu(conv(x))))``, as ``a * relu(s * max_f(conv_s(x))) + b``.

    The batch norm is ``a * z + b`` per channel. Where ``a > 0`` it is monotonic, so it commutes
    with the max; where ``a < 0`` the max of the norm is the norm of the min, and the min of a
    convolution is minus the max of the convolution with negated weights (``conv_s``, ``s`` the
    sign of ``a``); ReLU is monotonic too. Rounding is monotonic and negation exact, so this holds
    in float32 as well. The norm and the ReLU then touch [T, C] values instead of [T, F, C].
    The max is a MaxPool, not a ReduceMax, and the convolution gets zero filters up to a multiple
    of ``CHANNEL_BLOCK`` (sliced off after the pool): so onnxruntime pools in its blocked layout
    and never reorders the full [T, F, C] map."""
    import tensorflow as tf

    conv, norm = "conv2d" + _suffix(i), "batch_normalization" + _suffix(i + 1)
    scale = weights[f"{norm}/gamma"] / np.sqrt(weights[f"{norm}/moving_variance"] + BN_EPSILON)
    shift = weights[f"{norm}/beta"] - weights[f"{norm}/moving_mean"] * scale
    sign = np.where(scale < 0, -1, 1).astype(np.float32)
    channels = len(sign)
    extra = -channels % CHANNEL_BLOCK
    kernel = np.pad(weights[f"{conv}/kernel"] * sign, [(0, 0)] * 3 + [(0, extra)])
    bias = np.pad(weights[f"{conv}/bias"] * sign, (0, extra))
    z = tf.nn.bias_add(tf.nn.conv2d(x, tf.constant(kernel), strides=[1, 1, 1, 1], padding=padding), tf.constant(bias))
    freq = int(z.shape[2])
    peak = tf.squeeze(tf.nn.max_pool2d(z, [1, 1, freq, 1], [1, 1, freq, 1], "VALID"), [2])[:, :, :channels]
    return tf.nn.relu(peak * sign) * scale.astype(np.float32) + shift.astype(np.float32)


# musicnn's VGG: five 3x3 convolution blocks (ReLU, batch norm, max-pool); (pool size, strides)
VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


def build_vgg_graph(weights: dict[str, np.ndarray]):
    """musicnn's ``vgg`` forward pass (inference mode) as a frozen tf.Graph, with ``build_graph``'s
    input and tag names; the embedding is pool5 flattened (``VGG_OUTPUT_EMBEDDING``, [N, 256])."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()

    def bn(x, i):
        prefix = "batch_normalization" + _suffix(i)
        w = [tf.constant(weights[f"{prefix}/{k}"]) for k in ("moving_mean", "moving_variance", "beta", "gamma")]
        return tf.nn.batch_normalization(x, *w, BN_EPSILON)

    with graph.as_default(), tf1.name_scope("model"):
        x = tf1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS], name="Placeholder")
        y = bn(tf.expand_dims(x, 3), 0)
        for i, (size, strides) in enumerate(VGG_POOLS, start=1):
            y = tf.nn.conv2d(y, tf.constant(weights[f"{i}CNN/kernel"]), strides=[1, 1, 1, 1], padding="SAME")
            y = bn(tf.nn.relu(tf.nn.bias_add(y, tf.constant(weights[f"{i}CNN/bias"]))), i)
            y = tf.nn.max_pool2d(y, [1, *size, 1], [1, *strides, 1], "VALID")
        with tf1.name_scope("flatten"):
            flat = tf.reshape(y, [-1, int(np.prod(y.shape[1:]))], name="Reshape")
        logits = tf.nn.bias_add(tf.matmul(flat, tf.constant(weights["dense/kernel"])), tf.constant(weights["dense/bias"]))
        tf.nn.sigmoid(logits, name="Sigmoid")
    return graph


def reference_graph(model: str = DEFAULT_MODEL, weights: dict[str, np.ndarray] | None = None):
    """The tf.nn rebuild of ``model`` in musicnn's own layer order (the parity reference)."""
    weights = read_weights(model) if weights is None else weights
    return build_vgg_graph(weights) if is_vgg(model) else build_graph(weights)


def run_graph(graph, patches: np.ndarray, model: str = DEFAULT_MODEL) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, tags) from the TensorFlow graph: the parity reference for onnxruntime."""
    import tensorflow as tf

    with tf.compat.v1.Session(graph=graph) as sess:
        emb, tags = sess.run([f"{embedding_output(model)}:0", f"{OUTPUT_TAGS}:0"], {f"{INPUT}:0": patches})
    return emb, tags


def run_original(patches: np.ndarray, model: str = DEFAULT_MODEL) -> tuple[np.ndarray, np.ndarray]:
    """The same outputs from musicnn's own model code (needs tf-keras, TF_USE_LEGACY_KERAS=1)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    from musicnn import models

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
        is_training = tf1.placeholder(tf.bool)
        logits = models.define_model(x, is_training, model, 50)[0]
        tags = tf.nn.sigmoid(logits)
        # vgg: the flatten of pool5 that feeds its dense layer (musicnn's 'pool5' feature, flattened)
        embedding = graph.get_tensor_by_name("flatten/Reshape:0" if is_vgg(model) else "dense/BiasAdd:0")
        with tf1.Session() as sess:
            tf1.train.Saver().restore(sess, checkpoint_prefix(model))
            emb, out = sess.run([embedding, tags], {x: patches, is_training: False})
    return emb, out


def convert(out_dir: Path, keep_pb: bool = True, model: str = DEFAULT_MODEL) -> Path:
    """Write <model>.onnx (and the frozen <model>.pb) into ``out_dir``; return the ONNX path."""
    import tf2onnx

    weights = read_weights(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / onnx_name(model)
    if keep_pb:  # deterministic: node attributes are protobuf maps, unordered otherwise
        pb = reference_graph(model, weights).as_graph_def().SerializeToString(deterministic=True)
        path.with_suffix(".pb").write_bytes(pb)
    graph = build_vgg_graph(weights) if is_vgg(model) else build_graph(weights, pool_first=True)
    onnx_model, _ = tf2onnx.convert.from_graph_def(
        graph.as_graph_def(), input_names=[f"{INPUT}:0"],
        output_names=[f"{OUTPUT_TAGS}:0", f"{embedding_output(model)}:0"], opset=17,
    )
    # tf2onnx's node order (and so the file's bytes) varies between runs; the numbers do not.
    path.write_bytes(onnx_model.SerializeToString())
    return path


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=MODELS, default=DEFAULT_MODEL, help="musicnn checkpoint to convert")
    ap.add_argument("--out", type=Path, default=None, help="default: the package's models/ for MSD_musicnn, "
                    f"{EXTRA_MODELS_DIR} for the others")
    ap.add_argument("--no-pb", action="store_true", help="do not keep the frozen TensorFlow graph")
    args = ap.parse_args()
    out = args.out or (Path(__file__).parent / "models" if args.model == DEFAULT_MODEL else EXTRA_MODELS_DIR)
    print(convert(out, keep_pb=not args.no_pb, model=args.model))


if __name__ == "__main__":
    main()
