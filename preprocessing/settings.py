"""The preprocessing code's own settings: plain constants, no TensorFlow import.

They sit here, below pipeline/, so the Transform graph built in Beam workers and serving
read them without importing the pipeline; pipeline/configs.py re-exports them.
"""

from dataclasses import dataclass

TRANSFORM_CHUNK_SIZE = 32  # images decoded and embedded per backbone call inside Transform
# Decoding (preprocessing/images.py, the same ops in Transform and serving). A big JPEG is
# decoded at 1/2, 1/4 or 1/8 scale in the DCT: the largest ratio that keeps its short side
# at least this many times the backbone's input size (224 px -> full decode below 896 px).
JPEG_MIN_SHORT_SIDE_FACTOR = 2
JPEG_DECODE_RATIOS = (8, 4, 2, 1)  # the scales libjpeg offers, largest first
EXIF_SCAN_BYTES = 1 << 20  # EXIF orientation is looked for in this many leading bytes of a JPEG


@dataclass(frozen=True)
class TransformSettings:
    """What shapes the embeddings Transform computes (preprocessing_fn's custom_config)."""

    backbone: str = "inception_v3"  # preprocessing/backbones.py's registry name
    weights: str | None = None  # a weights file (local or gs://); None: the backbone's own resolution
    chunk_size: int = TRANSFORM_CHUNK_SIZE
    # Reuse an earlier run's embedding of the same photo bytes (pipeline/embedding_cache.py).
    reuse_embeddings: bool = True
