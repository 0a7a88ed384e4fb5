"""`gs://` for real, against a GCS JSON API emulator (`gcp-storage-emulator` from PyPI) on 127.0.0.1.

The emulator is a faithful stand-in for Cloud Storage as far as Beam's FileSystems go:
Beam's GCS filesystem talks to it through the google-cloud-storage client, which honours
STORAGE_EMULATOR_HOST. TensorFlow's own GCS client (tf.io.gfile, used by TFX's components
for their artifacts) does not: it always calls storage.googleapis.com. So the pipeline
test goes as far as that: local_runner.py reads dict.txt and summary.json from the
emulator, builds the pipeline on the gs:// DATA_DIR, and TFX's first component stops
where TF's client cannot reach the bucket.

In the e2e tier: integration tests with a storage server in its own process, one of them
running the pipeline runner on gs:// data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from apache_beam.io.filesystems import FileSystems

from data import accounting, report
from data.examples import read_examples
from data.records import glob
from tastebud.cli import main as cli
from tests.support.common import free_port
from tests.support.synthetic import class_folders

pytestmark = pytest.mark.slow

BUCKET = "tastebud-test"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """The emulator in its own process, a bucket in memory; STORAGE_EMULATOR_HOST set for this module."""
    port, log = free_port(), tmp_path_factory.mktemp("emulator") / "emulator.log"
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            [*command, "--quiet", "--in-memory", "--default-bucket", BUCKET], stdout=log_file, stderr=log_file
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    saved = {name: os.environ.get(name) for name in ("STORAGE_EMULATOR_HOST", "NO_GCE_CHECK")}
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    os.environ["NO_GCE_CHECK"] = "True"  # google-auth: no probing for a GCE metadata server
    restore_credentials = _anonymous_beam_credentials()
    try:
        yield f"gs://{BUCKET}"
    finally:
        restore_credentials()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.terminate()
        server.wait(timeout=10)


def _anonymous_beam_credentials():
    """Beam looks for Google credentials with 4 retries and backoff (about 30 s) before it
    connects anonymously, which is what it does here in the end: settle that at once.
    Returns what puts Beam's credential cache back as it was."""
    from apache_beam.internal.gcp import auth

    cache = auth._Credentials
    with cache._credentials_lock:
        saved = cache._credentials, cache._credentials_init
        cache._credentials, cache._credentials_init = None, True

    def restore():
        with cache._credentials_lock:
            cache._credentials, cache._credentials_init = saved

    return restore


def _upload(local_root, uri_root: str) -> None:
    for path in sorted(p for p in local_root.rglob("*") if p.is_file()):
        with FileSystems.create(f"{uri_root}/{path.relative_to(local_root).as_posix()}") as f:
            f.write(path.read_bytes())


def _examples(out: str) -> set[tuple[str, str, str, str]]:
    """(split, key below the source, label, sha256 of the image bytes) of every example."""
    rows = set()
    for split in ("train", "eval"):
        for key, label, image in read_examples(glob(f"{out}/{split}/*.tfrecord.gz")):
            rows.add((split, key.split("/photos/", 1)[1], label, hashlib.sha256(image).hexdigest()))
    return rows


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("gcs") / "photos"
    class_folders(root, ["daisy", "tulips", "crème brûlée"], per_class=10, seed=3)
    return root


@pytest.fixture(scope="module")
def gs_data(gcs, photos) -> str:
    _upload(photos, f"{gcs}/photos")
    out = f"{gcs}/data"
    assert cli(["prepare", f"{gcs}/photos", "--out", out]) == 0
    return out


def test_prepare_from_gs_to_gs_writes_what_a_local_run_writes(gcs, gs_data, photos, tmp_path):
    local = tmp_path / "data"
    assert cli(["prepare", str(photos), "--out", str(local)]) == 0
    remote_examples = _examples(gs_data)
    assert len(remote_examples) == 30 and remote_examples == _examples(str(local))  # labels, split, image bytes
    assert report.read_text(f"{gs_data}/dict.txt") == (local / "dict.txt").read_text(encoding="utf-8")
    remote = json.loads(report.read_text(f"{gs_data}/summary.json"))
    here = json.loads((local / "summary.json").read_text(encoding="utf-8"))
    assert remote["splits"] == here["splits"] and remote["classes"] == here["classes"]
    # The read-back accounting, on the bucket's own files: the 30 uploaded photos, each written once.
    written = sorted(w.key for w in accounting.read_written(gs_data))
    assert written == glob(f"{gcs}/photos/**")
    assert remote["input"] == remote["written"] + remote["rejected"] + remote["skipped"] == 30


def test_prepare_excludes_what_a_gs_csv_lists(gcs, gs_data):
    """--exclude gs://...csv is read through Beam's FileSystems; near_duplicates.csv is written there too."""
    assert report.read_text(f"{gs_data}/{report.NEAR_DUPLICATES_FILE}").startswith("uri,label,group,kept_with,distance")
    dropped = f"{gcs}/photos/daisy/00.jpg"
    report.write_text(f"{gcs}/drop.csv", f"uri,label,group,kept_with,distance\n{dropped},daisy,1,x,2\n")
    out = f"{gcs}/data_excluded"
    assert cli(["prepare", f"{gcs}/photos", "--out", out, "--exclude", f"{gcs}/drop.csv"]) == 0
    assert accounting.read_rejected(f"{out}/{report.SKIPPED_FILE}") == [
        (dropped, f"skipped: excluded by {gcs}/drop.csv")
    ]
    assert dropped not in {w.key for w in accounting.read_written(out)}


def test_batch_predict_from_gs_to_gs(flowers, gcs, sample_dir, tmp_path, capsys):
    from tastebud.inference import LocalModel

    chosen = sorted(sample_dir.glob("*/*.jpg"))[::20]
    folder = tmp_path / "new"
    folder.mkdir()
    for p in chosen:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "notes.txt").write_text("not a photo\n")
    _upload(folder, f"{gcs}/new")
    out = f"{gcs}/labels/p.csv"
    assert cli(["predict", f"{gcs}/new", "--model", str(flowers["serving"]), "--out", out]) == 0
    rows = {r["key"].rsplit("/", 1)[1]: r for r in csv.DictReader(io.StringIO(report.read_text(out), newline=""))}
    expected = LocalModel(flowers["serving"]).predict([p.read_bytes() for p in chosen], [p.name for p in chosen])
    assert {p.key: p.label for p in expected} == {name: r["label"] for name, r in rows.items()}
    rejected = accounting.read_rejected(f"{gcs}/labels/p_rejected.csv")
    assert [(uri.rsplit("/", 1)[1], reason[:12]) for uri, reason in rejected] == [("notes.txt", "not an image")]
    assert f"input {len(chosen) + 1} = predicted {len(chosen)} + rejected 1" in capsys.readouterr().out


def test_local_runner_takes_gs_data_as_given(gs_data, tmp_path, monkeypatch, capsys):
    """local_runner.py --data gs://... reads dict.txt and summary.json through Beam's
    FileSystems (from the emulator), hands the URI unchanged to TFX, and TFX's first
    component stops where TensorFlow's own GCS client cannot reach the emulator."""
    import local_runner

    # TF's client: fail at once instead of retrying against storage.googleapis.com, and no
    # credential lookup (its metadata-server probe); see the module docstring.
    monkeypatch.setenv("GCS_RETRY_CONFIG_MAX_RETRIES", "0")
    monkeypatch.setenv("GCS_REQUEST_CONNECTION_TIMEOUT_SECS", "5")
    monkeypatch.setenv("GOOGLE_AUTH_TOKEN_FOR_TESTING", "emulator-cannot-be-reached")
    import pipeline.pipeline as pipeline_module  # local_runner imports create_pipeline from it at run time

    seen, original = {}, pipeline_module.create_pipeline

    def watch(settings, *args):
        seen.update(data_dir=settings.data_dir, labels=list(settings.labels))
        return original(settings, *args)

    monkeypatch.setattr(pipeline_module, "create_pipeline", watch)
    args = ["--data", gs_data, "--output", str(tmp_path / "out"), "--backbone", "efficientnet_lite0", "--no-tune"]
    code = local_runner.main(args)
    err = capsys.readouterr().err
    assert seen["data_dir"] == gs_data and seen["labels"] == ["crème brûlée", "daisy", "tulips"]
    # TF's GCS client goes to Google's endpoint whatever STORAGE_EMULATOR_HOST says; here
    # (no internet) that is "Could not resolve host: www.googleapis.com".
    assert code == 1 and "the pipeline failed in ImportExampleGen" in err, err
    assert "googleapis.com" in err, err
