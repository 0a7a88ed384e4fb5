"""(3) TFT's analyze-and-transform with the project's preprocessing_fn on the DirectRunner;
(4) the naive way: one model call per image inside a Beam DoFn.

`python -m bench.transform_bench --examples FILE --backbone NAME` runs (3) alone and
prints JSON, so the scaling runs (6) can watch its memory from outside.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import apache_beam as beam  # noqa: E402

from pipeline import configs  # noqa: E402

RAW_IMAGE = "image"


def _schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    return text_format.Parse(Path(configs.SCHEMA_PATH).read_text(), schema_pb2.Schema())


def _beam_options(mode: str = configs.DIRECT_RUNNING_MODE, workers: int = configs.DIRECT_NUM_WORKERS):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(configs.local_beam_args(mode, workers))


def run_transform(
    examples: str,
    backbone: str,
    labels: list[str],
    mode: str = configs.DIRECT_RUNNING_MODE,
    workers: int = configs.DIRECT_NUM_WORKERS,
    chunk: int = configs.TRANSFORM_CHUNK_SIZE,
) -> dict:
    """AnalyzeAndTransformDataset over a TFRecord of raw examples; returns images and seconds."""
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.public import tfxio

    from preprocessing.backbones import RANDOM_WEIGHTS
    from preprocessing.preprocessing import preprocessing_fn

    custom_config = {
        "backbone": backbone,
        "labels": labels,
        "chunk_size": chunk,
        "backbone_weights": RANDOM_WEIGHTS if backbone == "inception_v3" else None,
        # The pipeline's path (EmbeddingCache before Transform): these examples have no cached
        # embeddings, so every row is gathered and embedded, as in a first run.
        "reuse_embeddings": True,
    }
    source = tfxio.TFExampleRecord(examples, schema=_schema())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, beam.Pipeline(options=_beam_options(mode, workers)) as p:
        with tft_beam.Context(temp_dir=tmp, force_tf_compat_v1=False):
            raw = p | "Read" >> source.BeamSource()
            (transformed, _), _ = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeAndTransformDataset(
                lambda inputs: preprocessing_fn(inputs, custom_config), output_record_batches=True
            )
            _ = (
                transformed
                | beam.Map(lambda batch_and_keys: batch_and_keys[0].num_rows)
                | beam.CombineGlobally(sum)
                | beam.Map(lambda n: print(json.dumps({"transformed": n}), flush=True))
            )
    return {"seconds": time.perf_counter() - start}


class PerImageEmbed(beam.DoFn):
    """The seed's design: the model is called once per image."""

    def __init__(self, backbone: str):
        self.backbone = backbone

    def setup(self):
        from bench.backbone_bench import extractor
        from preprocessing.backbones import get_backbone

        self.model = extractor(self.backbone)
        self.size = get_backbone(self.backbone).input_size

    def process(self, image: bytes):
        import tensorflow as tf

        pixels = tf.image.resize(
            tf.io.decode_image(image, channels=3, expand_animations=False), [self.size] * 2, antialias=True
        )
        yield self.model(pixels[None], training=False).numpy()[0]


def run_naive(images: list[bytes], backbone: str) -> dict:
    start = time.perf_counter()
    with beam.Pipeline(options=_beam_options()) as p:
        _ = p | beam.Create(images) | beam.ParDo(PerImageEmbed(backbone)) | beam.combiners.Count.Globally()
    return {"seconds": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", required=True)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--labels", default="daisy,dandelion,roses,sunflowers,tulips")
    parser.add_argument("--mode", default=configs.DIRECT_RUNNING_MODE)
    parser.add_argument("--workers", type=int, default=configs.DIRECT_NUM_WORKERS)
    args = parser.parse_args()
    result = run_transform(args.examples, args.backbone, args.labels.split(","), args.mode, args.workers)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
