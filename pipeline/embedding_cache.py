"""EmbeddingCache: joins each photo with an earlier run's embedding of the same bytes, before Transform.

Its inputs are ImportExampleGen's examples and, when there is one, an earlier run's
Transform output (`cache`, found in ML Metadata by pipeline/embedding_reuse.py; on Vertex,
`cache_pointer`, pipeline/embedding_pointer.py). One Beam job on the pipeline's runner
(the DirectRunner locally, Dataflow on Vertex). A semi-join: the set of the cache's keys
picks the photos it can answer, and only those go through the CoGroupByKey, without their
bytes:

  examples --content_key(fingerprint, image bytes)--> Route --not in the key set--> whole + content_key
                                                        |
                                                        +--in the key set, bytes dropped--+
                                                                                          +-- CoGroupByKey
  cache files --(content_key, embedding), checked------------------------------------------+   --> + cached_embedding

Its `joined` output is the same photos in the same splits, each with its content key
and, where the cache holds one under that key, the cached embedding in place of the
photo's bytes. Transform's preprocessing_fn embeds only the others
(preprocessing/embedding_cache.py); nothing else reads this output.

A cache that cannot be trusted is not used at all: a file that does not read to the end
(corrupt, truncated), an embedding of the wrong size or not finite, means every photo is
embedded, with one line saying why. A cache from another backbone, weights or decode
code shares no keys with this run; that too is said in one line.

The output artifact's properties carry the counts into ML Metadata: photos, reused,
embedded, and `reason` when the cache was refused or foreign.
"""

import json

import apache_beam as beam
from tfx.dsl.component.experimental.annotations import BeamComponentParameter, InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

from pipeline.embedding_pointer import SPLITS, EmbeddingsPointer, files_under, pointed_files

OUTPUT_KEY = "joined"
STATS_FILE = "embedding_cache.json"
FINGERPRINT_PROPERTY = "fingerprint"


class ReadCache(beam.DoFn):
    """One cache file -> (content_key, its embedding as a serialized tf.train.Feature) per row,
    or a 'problem' when the file cannot be trusted; 'foreign' counts rows keyed under another
    fingerprint (or none)."""

    def __init__(self, prefix: str, embedding_size: int):
        self.prefix, self.size = prefix, embedding_size

    def process(self, path: str):
        import numpy as np
        import tensorflow as tf

        from preprocessing import contract

        try:
            # The plain record reader: tf.data would trace a graph per file (about 1.7 s).
            options = tf.io.TFRecordOptions(compression_type="GZIP")
            for record in tf.compat.v1.io.tf_record_iterator(path, options):
                feature = tf.train.Example.FromString(record).features.feature
                key = feature[contract.CONTENT_KEY].bytes_list.value
                if not key or not key[0].decode().startswith(self.prefix):
                    yield beam.pvalue.TaggedOutput("foreign", 1)
                    continue
                embedding = feature[contract.EMBEDDING_KEY]
                values = np.asarray(embedding.float_list.value, np.float32)
                if values.size != self.size or not np.isfinite(values).all():
                    yield beam.pvalue.TaggedOutput("problem", f"{path}: an embedding of {values.size} values")
                    return
                yield key[0].decode(), embedding.SerializeToString()
        except tf.errors.DataLossError:
            yield beam.pvalue.TaggedOutput("problem", f"{path} is corrupt or truncated")
        except Exception as e:  # a record that is not a tf.Example, an unreadable file, ...
            yield beam.pvalue.TaggedOutput("problem", f"{path} does not read ({type(e).__name__})")


def with_content_key(record: bytes, key: str, embedding: bytes | None = None) -> bytes:
    """A serialized tf.Example with the content key (and a cached embedding: a serialized
    tf.train.Feature, copied as it is, float for float) added.

    The new features are appended as a tf.Example of their own: protobuf reads
    concatenated messages as one, merged (the feature map gains the entries), so the
    photo's bytes are not parsed and written again."""
    from tensorflow.core.example.example_pb2 import Example

    from preprocessing import contract

    extra = Example()
    extra.features.feature[contract.CONTENT_KEY].bytes_list.value.append(key.encode())
    if embedding is not None:
        extra.features.feature[contract.CACHED_EMBEDDING_KEY].MergeFromString(embedding)
    return record + extra.SerializeToString()


def route(record: bytes, split: str, fingerprint: str, cached_keys: set, refused: list):
    """A raw example, parsed once -> (split, record with its content key, False) when the cache
    has no embedding for it (or is refused); else, tagged 'candidate', (content_key, (split,
    the example without its image bytes)) for the CoGroupByKey with the cache."""
    from tensorflow.core.example.example_pb2 import Example

    from preprocessing import contract
    from preprocessing.embedding_cache import content_key

    example = Example.FromString(record)
    image = example.features.feature[contract.IMAGE_KEY].bytes_list.value
    key = content_key(fingerprint, image[0])
    if refused or key not in cached_keys:
        yield split, with_content_key(record, key), False
    else:
        image[:] = [b""]  # Transform does not decode a reused photo
        yield beam.pvalue.TaggedOutput("candidate", (key, (split, example.SerializeToString())))


def attach(joined) -> tuple[str, bytes, bool]:
    """(content_key, {'photos': [(split, record)], 'cached': [serialized Feature]}) -> (split,
    record with the cached embedding, True). A photo without one here would have lost its bytes:
    that raises rather than write a row Transform could not embed."""
    key, groups = joined
    if groups["photos"] and not groups["cached"]:
        raise RuntimeError(f"EmbeddingCache: no cached embedding for {key}, which the cache's key set holds")
    for split, record in groups["photos"]:
        yield split, with_content_key(record, key, groups["cached"][0]), True


def join(example_files: dict[str, str], cache_files: list[str], fingerprint: str, size: int, out: str, p) -> dict:
    """The Beam job: writes out/Split-<split>/ and returns the counts (see the module doc)."""
    import tensorflow as tf

    from preprocessing.embedding_cache import PREFIX_LENGTH

    prefix = fingerprint[:PREFIX_LENGTH] + ":"
    stats_file = f"{out}/{STATS_FILE}.txt"
    with p:
        read = {
            split: p | f"Read{split}" >> beam.io.ReadFromTFRecord(pattern) for split, pattern in example_files.items()
        }
        cache = (
            p
            | "CacheFiles" >> beam.Create(cache_files)
            | "ReadCache" >> beam.ParDo(ReadCache(prefix, size)).with_outputs("problem", "foreign", main="rows")
        )
        refused = beam.pvalue.AsList(cache.problem)
        # A semi-join: the set of the cache's keys (not its embeddings) picks the photos that
        # can be reused; only those go through the CoGroupByKey, and without their bytes.
        cached_keys = beam.pvalue.AsSingleton(cache.rows | "Keys" >> beam.Keys() | "KeySet" >> beam.combiners.ToSet())
        routed = [
            records
            | f"Route{split}"
            >> beam.FlatMap(route, split, fingerprint, cached_keys, refused).with_outputs("candidate", main="whole")
            for split, records in read.items()
        ]
        whole = [r.whole for r in routed] | "Whole" >> beam.Flatten()
        candidates = [r.candidate for r in routed] | "Candidates" >> beam.Flatten()
        reused = (
            {"photos": candidates, "cached": cache.rows}
            | "Join" >> beam.CoGroupByKey()
            | "Attach" >> beam.FlatMap(attach)
        )
        rows = (whole, reused) | "Rows" >> beam.Flatten()
        splits = list(example_files)
        by_split = rows | "BySplit" >> beam.Partition(lambda row, n: splits.index(row[0]), len(splits))
        for split, part in zip(splits, by_split, strict=True):
            _ = (
                part
                | f"Record{split}" >> beam.Map(lambda row: row[1])
                # Uncompressed: the photos are JPEGs already, and Transform reads them right after.
                | f"Write{split}"
                >> beam.io.WriteToTFRecord(
                    f"{out}/Split-{split}/data", compression_type=beam.io.filesystem.CompressionTypes.UNCOMPRESSED
                )
            )
        counts = (
            (
                rows | "Outcome" >> beam.Map(lambda row: "reused" if row[2] else "embedded"),
                cache.foreign | "Foreign" >> beam.Map(lambda _: "foreign"),
                cache.problem | "Problem" >> beam.Map(lambda problem: "problem:" + problem),
            )
            | "All" >> beam.Flatten()
            | "Count" >> beam.combiners.Count.PerElement()
            | "Stats" >> beam.combiners.ToDict()
            | "Json" >> beam.Map(json.dumps)
        )
        _ = counts | "WriteStats" >> beam.io.WriteToText(stats_file, shard_name_template="")
    with tf.io.gfile.GFile(stats_file) as f:
        found = json.loads(f.read().strip() or "{}")
    tf.io.gfile.remove(stats_file)
    return summarize(found, bool(cache_files))


def summarize(found: dict, had_cache: bool) -> dict:
    """The Beam job's counts -> photos, reused, embedded and the reason nothing was reused, if any."""
    reused, embedded = found.get("reused", 0), found.get("embedded", 0)
    problems = sorted(key.split(":", 1)[1] for key in found if key.startswith("problem:"))
    stats = {"photos": reused + embedded, "reused": reused, "embedded": embedded, "reason": ""}
    if problems:
        stats["reason"] = f"the earlier embeddings cannot be trusted ({problems[0]}); every photo embedded again"
    elif had_cache and not reused and found.get("foreign", 0):
        stats["reason"] = "the earlier embeddings were made with another backbone, weights or decode code; none reused"
    return stats


def saved_seconds(now: tuple[float, int], before: tuple[float, int], reused: int) -> float | None:
    """Transform's seconds saved by reusing `reused` embeddings, from (seconds, photos embedded)
    of this run's Transform and of the one that made the cache: the slope between the two
    (what one more photo costs, the fixed cost left out). None when the two runs do not give
    one (the earlier run embedded no more photos, or took no longer): no estimate beats a
    wrong one, and a mean over a few photos would count Transform's fixed cost as saved."""
    (t_now, n_now), (t_before, n_before) = now, before
    if n_before <= n_now or t_before <= t_now:
        return None
    return (t_before - t_now) / (n_before - n_now) * reused


def report_line(runs: dict, earlier: dict | None) -> str | None:
    """local_runner's line on this run's reuse (pipeline.results.ComponentRun dicts: this run's,
    and that of the run whose Transform made the cache, or None)."""
    joined = runs.get("EmbeddingCache").output(OUTPUT_KEY) if runs.get("EmbeddingCache") else None
    if joined is None and runs.get("Transform") and runs["Transform"].state == "COMPLETE":
        return "Transform: every photo embedded (--no-cache: no earlier embedding reused)"
    if joined is None or "photos" not in joined.properties:
        return None
    if runs.get("Transform") and runs["Transform"].state == "CACHED":
        return f"Transform: cached (same photos and settings as an earlier run), {joined.properties['photos']} photos"
    stats = {k: joined.properties.get(k, 0) for k in ("photos", "reused", "embedded")}
    stats["reason"] = joined.properties.get("reason", "")
    saved = None
    if earlier and runs.get("Transform") and earlier.get("EmbeddingCache") and earlier.get("Transform"):
        before = earlier["EmbeddingCache"].output(OUTPUT_KEY)
        saved = saved_seconds(
            (runs["Transform"].seconds, stats["embedded"]),
            (earlier["Transform"].seconds, int(before.properties.get("embedded", 0))),
            stats["reused"],
        )
    return summary_line(stats, saved)


def summary_line(stats: dict, saved_seconds: float | None = None) -> str:
    """'Transform: 55 of 605 photos embedded, 550 reused (saved ~16 s)', then the reason if any."""
    line = f"Transform: {stats['embedded']} of {stats['photos']} photos embedded, {stats['reused']} reused"
    if saved_seconds is not None and stats["reused"]:
        line += f" (saved ~{saved_seconds:.0f} s)" if saved_seconds >= 1 else " (saved < 1 s)"
    return line + (f"\n  {stats['reason']}" if stats.get("reason") else "")


@component(use_beam=True)
def EmbeddingCache(  # noqa: N802 (a TFX component's name)
    examples: InputArtifact[standard_artifacts.Examples],
    joined: OutputArtifact[standard_artifacts.Examples],
    backbone: Parameter[str],
    backbone_weights: Parameter[str],
    cache: InputArtifact[standard_artifacts.Examples] = None,
    cache_pointer: InputArtifact[EmbeddingsPointer] = None,
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
):
    """backbone, backbone_weights: TransformSettings' ('' for None), whose fingerprint is computed
    here, where the weights are; cache: an earlier Transform's transformed_examples, or
    cache_pointer: a pointer to one (Vertex, pipeline/embedding_pointer.py); neither: the first
    run; beam_pipeline: made by TFX."""
    from absl import logging
    from tfx.types import artifact_utils

    from models.out_of_fold import split_files
    from preprocessing.backbones import get_backbone
    from preprocessing.embedding_cache import fingerprint

    files = {split: split_files(examples, split) for split in SPLITS}
    cache_uri, cache_files, problem = "", [], ""
    if cache is not None:
        cache_uri, cache_files = cache.uri, files_under(cache.uri)
    elif cache_pointer is not None:
        cache_uri, cache_files, problem = pointed_files(cache_pointer.uri)
    fp = fingerprint(backbone, backbone_weights or None)
    stats = join(files, cache_files, fp, get_backbone(backbone).embedding_size, joined.uri, beam_pipeline)
    stats["reason"] = problem or stats["reason"]
    joined.split_names = artifact_utils.encode_split_names(list(SPLITS))
    for name in ("photos", "reused", "embedded"):
        joined.set_int_custom_property(name, stats[name])
    joined.set_string_custom_property("reason", stats["reason"])
    joined.set_string_custom_property("cache_uri", cache_uri)
    joined.set_string_custom_property(FINGERPRINT_PROPERTY, fp)  # read by pipeline/embedding_reuse.py
    logging.info("%s", summary_line(stats))
