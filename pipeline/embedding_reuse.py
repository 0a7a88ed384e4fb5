"""Which earlier embeddings the EmbeddingCache component reuses: a TFX Resolver over ML Metadata.

The cache is an earlier run's Transform output (its `transformed_examples`: each photo's
content key and embedding). The Resolver picks the latest one made with this run's
fingerprint (backbone, weights, decode code: after a run with another backbone, the
embeddings from before it are found again) that was *not* computed from the examples this
run reads. So a run on unchanged data resolves the same cache as
the run before it, the EmbeddingCache and Transform executions have the same inputs, and
TFX's cache answers them (and everything downstream) without running anything. A run on
changed data (photos added, renamed, relabelled) resolves the latest Transform output
before it, which holds every photo embedded so far.

The lineage walk: cache artefact <- Transform <- its `examples` (EmbeddingCache's output)
<- EmbeddingCache <- its `examples` (ImportExampleGen's). The resolved cache is an input
of the EmbeddingCache execution, so ML Metadata shows which run's embeddings were reused.

Vertex AI Pipelines compiles only TFX's LatestArtifactStrategy and LatestBlessedModelStrategy,
each as a query by artefact type alone; there a pointer file and an Importer take this
Resolver's place (pipeline/embedding_pointer.py).
"""

from __future__ import annotations

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver
from tfx.v1 import dsl

from pipeline.embedding_cache import FINGERPRINT_PROPERTY

EXAMPLES, CACHE = "examples", "cache"
_OUTPUT, _INPUT = metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.INPUT


def producer_input(store, artifact_id: int | None, key: str) -> int | None:
    """The id of input `key` of the execution that produced this artefact (None when unknown)."""
    if artifact_id is None:
        return None
    produced = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type == _OUTPUT]
    if not produced:
        return None
    inputs = store.get_events_by_execution_ids([produced[0].execution_id])
    found = [e.artifact_id for e in inputs if e.type == _INPUT and e.path.steps and e.path.steps[0].key == key]
    return found[0] if found else None


class EarlierEmbeddingsStrategy(resolver.ResolverStrategy):
    """{examples: ImportExampleGen's outputs, cache: Transform's outputs} -> the same examples and
    {cache: [the latest Transform output made under `fingerprint` and not computed from the latest
    examples]}, or {cache: []}."""

    def __init__(self, fingerprint: str = ""):
        self.fingerprint = fingerprint

    def _fingerprint(self, store, artifact_id: int | None) -> str | None:
        if artifact_id is None:
            return None
        (artifact,) = store.get_artifacts_by_id([artifact_id])
        properties = artifact.custom_properties
        return properties[FINGERPRINT_PROPERTY].string_value if FINGERPRINT_PROPERTY in properties else None

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        examples = list(input_dict.get(EXAMPLES, []))  # TFX wants every input key back
        current = max((a.id for a in examples), default=None)
        for candidate in sorted(input_dict.get(CACHE, []), key=lambda a: a.id, reverse=True):
            joined = producer_input(store, candidate.id, EXAMPLES)  # Transform's input: EmbeddingCache's output
            if self._fingerprint(store, joined) != self.fingerprint:  # another backbone, or a --no-cache run
                continue
            if current is not None and producer_input(store, joined, EXAMPLES) != current:  # EmbeddingCache's
                return {EXAMPLES: examples, CACHE: [candidate]}
        return {EXAMPLES: examples, CACHE: []}


def earlier_embeddings(examples, fingerprint: str, transform_id: str = "Transform") -> dsl.Resolver:
    """The Resolver node: examples is this pipeline's ImportExampleGen output channel; fingerprint
    preprocessing/embedding_cache.py's for this run."""
    return dsl.Resolver(
        strategy_class=EarlierEmbeddingsStrategy,
        config={"fingerprint": fingerprint},
        examples=examples,
        cache=dsl.Channel(
            type=types.standard_artifacts.Examples,
            producer_component_id=transform_id,
            output_key="transformed_examples",
        ),
    ).with_id("earlier_embeddings_resolver")
