"""Earlier embeddings on Vertex AI Pipelines: a pointer each run leaves for the next.

Locally a custom Resolver finds the earlier embeddings in ML Metadata
(pipeline/embedding_reuse.py). Vertex's compiler has no custom Resolver: it compiles only
LatestArtifactStrategy and LatestBlessedModelStrategy, each a query by artifact type
alone, where every type of ours reads as "tfx.Artifact" and a standard one would also find
other components' outputs. So there, the pipeline does what a Pusher does for models:

  Transform --> RecordEmbeddings: writes {"transformed_examples": <its URI>}
                to <embeddings_dir>/<backbone[-weights]>/pointer.json (and to its own output)
  next run:     Importer(<embeddings_dir>/<backbone[-weights]>) --EmbeddingsPointer--> EmbeddingCache

The folder is per backbone and weights file, so a run finds the last embeddings made with
them; the content keys carry the full fingerprint, so embeddings from other decode code or
other weights under the same name are not reused (EmbeddingCache says so). Both ends are
artifacts in ML Metadata: RecordEmbeddings's output (lineage from Transform) and the
Importer's (an input of EmbeddingCache). A missing
pointer is a first run; one that does not read, or that names files that are gone, means
every photo is embedded, with the reason. The same DAG runs on the local runner
(tests/e2e/test_embedding_reuse.py runs it there, as Vertex's stand-in).
"""

import json

from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.v1 import dsl

POINTER_FILE = "pointer.json"
SPLITS = ("train", "eval")


class EmbeddingsPointer(types.Artifact):
    """A folder with pointer.json: the URI of a Transform output whose rows hold content keys and embeddings."""

    TYPE_NAME = "tastebud.EmbeddingsPointer"


def pointer_dir(embeddings_dir: str, backbone: str, weights: str | None) -> str:
    """The pointer's folder for a backbone and weights (their names: the pipeline is compiled
    where the weights may not be; EmbeddingCache checks the full fingerprint when it runs)."""
    import hashlib

    named = f"-{hashlib.sha256(weights.encode()).hexdigest()[:12]}" if weights else ""
    return f"{embeddings_dir.rstrip('/')}/{backbone}{named}"


def files_under(examples_uri: str) -> list[str]:
    """A Transform output's data files, train then eval."""
    import tensorflow as tf

    return [f for split in SPLITS for f in sorted(tf.io.gfile.glob(f"{examples_uri}/Split-{split}/*"))]


def write_pointer(folder: str, record: dict) -> None:
    """pointer.json in `folder`, replaced whole (written beside it, then renamed over it)."""
    import tensorflow as tf

    tf.io.gfile.makedirs(folder)
    temporary = f"{folder}/.{POINTER_FILE}.tmp"
    with tf.io.gfile.GFile(temporary, "w") as f:
        f.write(json.dumps(record, sort_keys=True))
    tf.io.gfile.rename(temporary, f"{folder}/{POINTER_FILE}", overwrite=True)


def pointed_files(folder: str) -> tuple[str, list[str], str]:
    """A pointer's folder -> (the Transform output it names, that output's files, a problem or '').
    No pointer (a first run) is ('', [], '')."""
    import tensorflow as tf

    path = f"{folder}/{POINTER_FILE}"
    if not tf.io.gfile.exists(path):
        return "", [], ""
    try:
        with tf.io.gfile.GFile(path) as f:
            uri = json.loads(f.read())["transformed_examples"]
    except Exception as e:  # not JSON, no such key, unreadable
        return "", [], f"the earlier embeddings' pointer {path} does not read ({type(e).__name__}); none reused"
    files = files_under(uri)
    if not files:
        return uri, [], f"the earlier embeddings at {uri} are gone; every photo embedded again"
    return uri, files, ""


@component
def RecordEmbeddings(  # noqa: N802 (a TFX component's name)
    transformed_examples: InputArtifact[standard_artifacts.Examples],
    pointer: OutputArtifact[EmbeddingsPointer],
    latest: Parameter[str],
):
    """Points `latest` (pointer_dir's folder) and its own output at this run's Transform output."""
    record = {"transformed_examples": transformed_examples.uri}
    write_pointer(pointer.uri, record)
    write_pointer(latest, record)


def latest_embeddings(folder: str) -> dsl.Importer:
    """The Importer of pointer_dir's folder (an EmbeddingsPointer; its pointer.json may not exist yet)."""
    return dsl.Importer(source_uri=folder, artifact_type=EmbeddingsPointer).with_id("latest_embeddings_importer")
