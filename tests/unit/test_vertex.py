"""vertex_runner.py: the Vertex AI pipeline spec compiled offline, checked as JSON.

Vertex AI and Dataflow cannot be reached from here; everything up to the submit call
is real (TFX's KubeflowV2DagRunner compiles the same create_pipeline), and --submit is
tested on its network-free failure path (no credentials).
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import vertex_runner
from pipeline import configs
from pipeline.blessing import BlessingBar, compute_bar, compute_holdout
from tests.support.common import REPO

IMAGE = "europe-docker.pkg.dev/acme/tastebud/pipeline:1.2.3"


@pytest.fixture()
def labels_file(tmp_path) -> Path:
    path = tmp_path / "dict.txt"
    path.write_text("tasty\nnot tasty\n")
    return path


def _compile(tmp_path: Path, labels_file: Path, *extra: str) -> dict:
    out = tmp_path / "spec"
    args = [
        "--project",
        "acme",
        "--region",
        "europe-west4",
        "--bucket",
        "gs://acme-tastebud",
        "--image",
        IMAGE,
        "--labels-file",
        str(labels_file),
        "--output-dir",
        str(out),
        "--dry-run",
        *extra,
    ]
    assert vertex_runner.main(args) == 0
    return json.loads((out / "tastebud_pipeline.json").read_text())["pipelineSpec"]


def _executors(spec: dict) -> dict:
    return {name.removesuffix("_executor"): e for name, e in spec["deploymentSpec"]["executors"].items()}


def _parameters(spec: dict, task: str) -> dict:
    params = spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"]
    constants = {k: v.get("runtimeValue", {}).get("constantValue", {}) for k, v in params.items()}
    return {k: c.get("stringValue", c.get("intValue")) for k, c in constants.items()}


def test_all_components_in_dag_order(tmp_path, labels_file):
    order = vertex_runner.task_order(_compile(tmp_path, labels_file))
    main_line = [t for t in order if not t.startswith("latest_blessed")]
    assert main_line == [
        "ImportExampleGen",
        "ImportSchemaGen",
        "latest_embeddings_importer",
        "EmbeddingCache",
        "Transform",
        "RecordEmbeddings",
        "Tuner",
        "OutOfFold",
        "Trainer",
        "DataHealth",
        "Evaluator",
        "BlessingGate",
        "Pusher",
    ]
    assert order.index("latest_blessed_model_resolver-model-resolver") < order.index("Evaluator")


def test_no_data_health_leaves_the_report_out(tmp_path, labels_file):
    order = vertex_runner.task_order(_compile(tmp_path, labels_file, "--no-data-health"))
    assert "DataHealth" not in order and "OutOfFold" in order


def test_every_task_uses_the_configured_image(tmp_path, labels_file):
    containers = [e["container"] for e in _executors(_compile(tmp_path, labels_file)).values() if "container" in e]
    assert len(containers) == 12 and {c["image"] for c in containers} == {IMAGE}


def test_embeddings_are_reused_through_a_pointer_per_backbone(tmp_path, labels_file):
    """Vertex compiles no custom Resolver: the Importer reads the folder RecordEmbeddings writes
    (pipeline/embedding_pointer.py; the same DAG runs locally in tests/e2e/test_embedding_reuse.py)."""
    for backbone in ("inception_v3", "efficientnet_lite0"):
        spec = _compile(tmp_path / backbone, labels_file, "--backbone", backbone)
        tasks, folder = spec["root"]["dag"]["tasks"], f"gs://acme-tastebud/tastebud/embeddings/{backbone}"
        assert _parameters(spec, "latest_embeddings_importer")["artifact_uri"] == folder
        assert _parameters(spec, "RecordEmbeddings")["latest"] == folder
        pointer = tasks["EmbeddingCache"]["inputs"]["artifacts"]["cache_pointer"]["taskOutputArtifact"]
        assert pointer["producerTask"] == "latest_embeddings_importer"
        joined = tasks["Transform"]["inputs"]["artifacts"]["examples"]["taskOutputArtifact"]
        assert joined == {"outputArtifactKey": "joined", "producerTask": "EmbeddingCache"}
        assert json.loads(_parameters(spec, "Transform")["custom_config"])["reuse_embeddings"] is True


def test_dataflow_args_reach_the_beam_components(tmp_path, labels_file):
    executors = _executors(_compile(tmp_path, labels_file, "--max-workers", "42"))
    for component in ("Transform", "Evaluator"):
        args = executors[component]["container"]["args"]
        assert "--runner=DataflowRunner" in args
        assert "--project=acme" in args and "--region=europe-west4" in args
        assert (
            "--temp_location=gs://acme-tastebud/tmp" in args and "--staging_location=gs://acme-tastebud/staging" in args
        )
        assert "--max_num_workers=42" in args and f"--sdk_container_image={IMAGE}" in args
        assert any(a.startswith("--machine_type=") for a in args)


def test_no_local_paths_leak_into_the_cloud_spec(tmp_path, labels_file):
    text = json.dumps(_compile(tmp_path, labels_file))
    for local in (str(REPO), str(tmp_path), str(Path.home()), "/tmp/"):
        assert local not in text, f"{local} leaked into the spec"
    assert "gs://acme-tastebud/tastebud/data" in text and "/tastebud/pipeline/schema.pbtxt" in text


def test_backbone_and_threshold_switches_change_the_spec(tmp_path, labels_file):
    default = _compile(tmp_path / "a", labels_file)
    switched = _compile(tmp_path / "b", labels_file, "--backbone", "efficientnet_lite0", "--min-accuracy", "0.93")
    assert json.loads(_parameters(default, "Transform")["custom_config"])["backbone"] == "inception_v3"
    assert json.loads(_parameters(switched, "Transform")["custom_config"])["backbone"] == "efficientnet_lite0"
    assert json.loads(_parameters(switched, "Transform")["custom_config"])["labels"] == ["tasty", "not tasty"]
    assert "0.93" in _parameters(switched, "Evaluator")["eval_config"]
    assert "0.93" not in _parameters(default, "Evaluator")["eval_config"]


def test_blessing_bar_from_summary_file_and_new_baseline(tmp_path, labels_file):
    summary = tmp_path / "summary.json"
    summary.write_text(
        json.dumps({"classes": {"tasty": {"train": 128, "eval": 32}, "not tasty": {"train": 32, "eval": 8}}})
    )
    spec = _compile(tmp_path / "a", labels_file, "--summary-file", str(summary))
    config = json.loads(_parameters(spec, "Evaluator")["eval_config"])
    threshold = config["metrics_specs"][0]["metrics"][1]["per_slice_thresholds"][0]["threshold"]
    bar = compute_bar({"tasty": 160, "not tasty": 40})  # out of fold: every labelled photo
    floor = compute_holdout(40, bar)  # the eval split: not significantly below that bar
    assert threshold["value_threshold"]["lower_bound"] == pytest.approx(floor.accuracy, abs=1e-5)
    rule = json.loads(_parameters(spec, "BlessingGate")["rule"])
    assert (BlessingBar(**rule["bar"]).needed_correct, rule["bar"]["photo_count"]) == (bar.needed_correct, 200)
    assert "change_threshold" in threshold and "latest_blessed_model_resolver" in " ".join(spec["root"]["dag"]["tasks"])
    assert not rule["new_baseline"]
    # --new-baseline: no last blessed model reaches the Evaluator (TFX then drops the change threshold)
    fresh = _compile(tmp_path / "b", labels_file, "--summary-file", str(summary), "--new-baseline", "--no-tune")
    assert json.loads(_parameters(fresh, "BlessingGate")["rule"])["new_baseline"]
    assert not any(t.startswith(("latest_blessed", "Tuner")) for t in fresh["root"]["dag"]["tasks"])


def test_tflite_adds_the_phone_export_after_the_pusher_writing_to_the_bucket(tmp_path, labels_file):
    spec = _compile(tmp_path, labels_file, "--tflite", "--tflite-quantization", "float16")
    assert vertex_runner.task_order(spec)[-2:] == ["Pusher", "PhoneExport"]
    params = _parameters(spec, "PhoneExport")
    assert params["base_directory"] == "gs://acme-tastebud/tastebud/tflite/tastebud"
    assert params["quantization"] == "float16"
    assert _executors(spec)["PhoneExport"]["container"]["image"] == IMAGE
    assert "PhoneExport" not in _compile(tmp_path, labels_file)["root"]["dag"]["tasks"]  # off by default


def test_vertex_training_and_endpoint_switches(tmp_path, labels_file):
    executors = _executors(_compile(tmp_path, labels_file, "--vertex-training", "--deploy-endpoint"))
    assert "google_cloud_ai_platform" in " ".join(executors["Trainer"]["container"]["args"])
    assert "google_cloud_ai_platform" in " ".join(executors["Pusher"]["container"]["args"])


def test_submit_without_credentials_fails_clearly_offline(tmp_path, labels_file, monkeypatch, capsys):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("HOME", str(tmp_path))
    args = ["--labels-file", str(labels_file), "--output-dir", str(tmp_path / "spec"), "--submit"]
    assert vertex_runner.main(args) == 2
    err = capsys.readouterr().err
    assert "no Google Cloud credentials" in err and "gcloud auth application-default login" in err


def test_dry_run_from_the_readme_prints_a_summary(tmp_path, monkeypatch, capfd):
    """The README's `python vertex_runner.py --dry-run`, run as __main__ in this process: a fresh
    interpreter would only add the seconds of importing TFX and KFP again."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "argv", ["vertex_runner.py", "--dry-run", "--output-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(REPO / "vertex_runner.py"), run_name="__main__")
    out, err = capfd.readouterr()
    assert exited.value.code == 0, err[-2000:]
    assert "tasks (15): ImportExampleGen" in out and "dry run: nothing submitted" in out


def test_dockerfile_lints_and_copies_files_that_exist():
    lint = subprocess.run(["hadolint", str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
    lock = (REPO / "requirements.lock").read_text().lower().replace("_", "-")
    for pin in (REPO / "requirements-image.txt").read_text().splitlines():
        if pin and not pin.startswith("#"):
            assert pin.lower() in lock, f"{pin} differs from requirements.lock"


@pytest.mark.parametrize(
    "args",
    [configs.local_beam_args(), configs.dataflow_beam_args("p", "us-central1", "gs://b", "image:1")],
    ids=["local", "dataflow"],
)
def test_beam_args_make_tfx_build_no_sdist_of_itself(args, monkeypatch):
    """TFX packages itself (an sdist, ~2 s) before every Beam component unless the args are
    empty or name the workers' dependencies: locally none are needed, on Dataflow the image."""
    from tfx.components.transform.executor import Executor
    from tfx.utils import dependency_utils

    def no_sdist():
        raise AssertionError("TFX built an sdist of itself for these Beam args")

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", no_sdist)
    executor = Executor(Executor.Context(beam_pipeline_args=args))
    assert executor._beam_pipeline_args == args


def test_local_default_beam_args_are_beams_own_defaults():
    """No flags locally must still mean the configured runner, mode and worker count."""
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

    options = PipelineOptions(configs.local_beam_args())
    assert (options.view_as(StandardOptions).runner or StandardOptions.DEFAULT_RUNNER) == "DirectRunner"
    direct = options.view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == (
        configs.DIRECT_RUNNING_MODE,
        configs.DIRECT_NUM_WORKERS,
    )
    other = PipelineOptions(configs.local_beam_args("multi_processing", 2)).view_as(DirectOptions)
    assert (other.direct_running_mode, other.direct_num_workers) == ("multi_processing", 2)
