"""Reads what a pipeline run did from ML Metadata: each component's state, wall time
and output artifacts. Used by local_runner's report, `tastebud review` and bench/."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


@dataclass
class Artifact:
    uri: str
    properties: dict = field(default_factory=dict)


@dataclass
class ComponentRun:
    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING...
    seconds: float
    outputs: dict[str, list[Artifact]]
    properties: dict = field(default_factory=dict)  # the component's exec properties
    run_id: str = ""  # the pipeline run it belongs to

    def output(self, key: str) -> Artifact | None:
        found = self.outputs.get(key) or []
        return found[-1] if found else None


def sqlite_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _plain(custom_properties) -> dict:
    return {
        name: getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
        for name, value in custom_properties.items()
    }


def _artifact(a: metadata_store_pb2.Artifact) -> Artifact:
    return Artifact(a.uri, _plain(a.custom_properties))


def _outputs(store, execution_id: int) -> dict[str, list[Artifact]]:
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == e.OUTPUT]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    outputs: dict[str, list[Artifact]] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        outputs.setdefault(key, []).append(_artifact(artifacts[event.artifact_id]))
    return outputs


def run_ids(store) -> list[str]:
    """Pipeline run ids, oldest first."""
    contexts = store.get_contexts_by_type("pipeline_run")
    return [c.name for c in sorted(contexts, key=lambda c: c.id)]


def component_runs(store, run_id: str | None = None) -> dict[str, ComponentRun]:
    """The components of one run (default: the latest), keyed by node id, in execution order."""
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return {}
    context = max(runs, key=lambda c: c.id) if run_id is None else next(c for c in runs if c.name == run_id)
    result = {}
    for execution in sorted(store.get_executions_by_context(context.id), key=lambda e: e.id):
        node_id = _node_id(store, execution)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
        state = _STATES.get(execution.last_known_state, "UNKNOWN")
        result[node_id] = ComponentRun(
            node_id, state, seconds, _outputs(store, execution.id), _plain(execution.custom_properties), context.name
        )
    return result


def _node_id(store, execution) -> str:
    for context in store.get_contexts_by_execution(execution.id):
        if store.get_context_types_by_id([context.type_id])[0].name == "node":
            return context.name.split(".", 1)[-1]
    return execution.name or str(execution.id)


def blessing(runs: dict[str, ComponentRun]) -> Artifact | None:
    """The run's blessing: BlessingGate's (what the Pusher read), or the Evaluator's for runs before the gate."""
    node = runs.get("BlessingGate") or runs.get("Evaluator")
    return node.output("blessing") if node else None


def is_blessed(runs: dict[str, ComponentRun]) -> bool:
    found = blessing(runs)
    return bool(found and found.properties.get("blessed") == 1)


def cv_correct(runs: dict[str, ComponentRun]) -> int | None:
    """Right out-of-fold answers (the OutOfFold artefact's count), or None without one."""
    predictions = runs["OutOfFold"].output("predictions") if runs.get("OutOfFold") else None
    return None if predictions is None else predictions.properties.get("correct")


def record(runs: dict[str, ComponentRun]):
    """What the run was judged against (pipeline/blessing.py's Record: the bar, the eval floor, the
    baseline-model plan), as its BlessingGate recorded it; None for runs without one."""
    from pipeline.blessing import Record
    from pipeline.gate import RECORD_PROPERTY

    gate = runs.get("BlessingGate")
    blessing = gate.output("blessing") if gate else None
    return Record.from_json(blessing.properties.get(RECORD_PROPERTY)) if blessing else None


def producing_run(store, node_id: str, key: str, uri: str) -> dict[str, ComponentRun] | None:
    """The components of the run whose `node_id` wrote output `key` at `uri` (None when none did)."""
    for run_id in reversed(run_ids(store)):
        runs = component_runs(store, run_id)
        found = runs.get(node_id)
        if found and any(a.uri == uri for a in found.outputs.get(key, [])):
            return runs
    return None
