"""Embeddings reused by content: the key of a photo's embedding, and Transform's use of a cached one.

A photo's embedding depends on its bytes and on everything that turns bytes into an
embedding: the backbone, its weights, its input size, the decode/EXIF/resize code and
TensorFlow. `fingerprint` hashes all of that; `content_key` is the fingerprint's first
16 hex digits, a colon, and the SHA-256 of the photo's bytes. A renamed, moved or
relabelled photo keeps its key; another backbone, weights file or decode code gives
every photo a new one, so nothing cached under the old fingerprint can match.

pipeline/embedding_cache.py joins each example with the embedding cached under its
key (a Beam CoGroupByKey) before Transform. In Transform, `embed_missing` runs the
backbone only on the rows without a usable cached embedding (gather, embed, scatter
back), so the cost follows the new photos. Serving passes no cached embeddings: every
row is missing and the backbone always runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import tensorflow as tf

PREFIX_LENGTH = 16  # hex digits of the fingerprint that start every content key
# The code that shapes an embedding: a change to any of these files changes the fingerprint.
EMBEDDING_CODE = (
    "images.py",
    "exif.py",
    "settings.py",
    "backbones.py",
    "efficientnet_lite.py",
    "torch_legacy.py",
    "traced_backbone.py",
)


def fingerprint(backbone: str, weights: str | None) -> str:
    """SHA-256 (hex) of what turns photo bytes into this backbone's embedding; weights as
    TransformSettings.weights (None: the backbone's own resolution). Raises the backbone's
    BackboneWeightsError when the weights are missing."""
    from preprocessing.backbones import RANDOM_WEIGHTS, get_backbone
    from preprocessing.efficientnet_lite import file_sha256

    spec = get_backbone(backbone)
    resolved = spec.resolve_weights(weights)
    here = Path(__file__).parent
    parts = {
        "backbone": spec.name,
        "input_size": spec.input_size,
        "embedding_size": spec.embedding_size,
        "weights": RANDOM_WEIGHTS if resolved == RANDOM_WEIGHTS else file_sha256(Path(resolved)),
        "code": {name: hashlib.sha256((here / name).read_bytes()).hexdigest() for name in EMBEDDING_CODE},
        "tensorflow": tf.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@functools.lru_cache(maxsize=8)
def fingerprint_once(backbone: str, weights: str | None) -> str:
    """fingerprint, computed once per process (TFT traces preprocessing_fn several times)."""
    return fingerprint(backbone, weights)


def content_key(fingerprint_hex: str, image: bytes) -> str:
    """The cache key of one photo's embedding: '<fingerprint prefix>:<SHA-256 of the bytes>'."""
    return f"{fingerprint_hex[:PREFIX_LENGTH]}:{hashlib.sha256(image).hexdigest()}"


def first_or_empty(values: tf.SparseTensor, rows: tf.Tensor) -> tf.Tensor:
    """A [rows, <=1] sparse string feature -> [rows] dense, '' where absent."""
    dense = tf.sparse.to_dense(values, default_value="")
    return tf.concat([dense, tf.fill([rows, 1], "")], axis=1)[:, 0]


def embed_missing(
    images: tf.Tensor,
    cached: tf.SparseTensor,
    keys: tf.SparseTensor,
    fingerprint_hex: str,
    embed,
    embedding_size: int,
) -> tf.Tensor:
    """[n] image bytes, their cached embeddings ([n, 0 or embedding_size] sparse floats) and
    content keys ([n, <=1] sparse strings) -> float32 [n, embedding_size].

    A row's cached embedding is used only when it is whole (embedding_size values, all
    finite) and its key carries this fingerprint; every other row is embedded: embed([m]
    image bytes) -> [m, embedding_size]. Reused rows are the cached floats, bit for bit.
    """
    n = tf.shape(images)[0]
    ragged = tf.RaggedTensor.from_sparse(cached)
    prefix = fingerprint_hex[:PREFIX_LENGTH] + ":"
    usable = (
        tf.equal(ragged.row_lengths(), embedding_size)
        & tf.reduce_all(tf.math.is_finite(ragged), axis=1)
        & tf.equal(tf.strings.substr(first_or_empty(keys, n), 0, len(prefix)), prefix)
    )
    have = tf.cast(tf.reshape(tf.where(usable), [-1]), tf.int32)
    missing = tf.cast(tf.reshape(tf.where(~usable), [-1]), tf.int32)
    reused = tf.reshape(tf.gather(ragged, have).flat_values, [-1, embedding_size])
    fresh = embed(tf.gather(images, missing))
    return tf.ensure_shape(tf.dynamic_stitch([have, missing], [reused, fresh]), [None, embedding_size])


def without_cache(image_bytes: tf.Tensor, raw_feature_spec: dict) -> dict[str, tf.Tensor]:
    """The Transform graph's raw features for [n] image bytes and no cached embeddings (serving):
    the cache features, where the graph has them, as empty [n, 0] sparse tensors."""
    from preprocessing import contract

    n = tf.shape(image_bytes, out_type=tf.int64)[0]
    features = {contract.IMAGE_KEY: image_bytes}
    for name, dtype in ((contract.CONTENT_KEY, tf.string), (contract.CACHED_EMBEDDING_KEY, tf.float32)):
        if name in raw_feature_spec:
            features[name] = tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0], dtype), tf.stack([n, 0]))
    return features
