"""Embeddings reused by content across real pipeline runs (local_runner.py, TFX, ML Metadata, Beam).

One output folder, runs in this order:
  A  30 photos (3 classes of the sample), EfficientNet-Lite0: every photo embedded;
  B  the same folder grown by 10% (3 new photos), 3 photos renamed and 2 moved to another
     label: only the 3 new ones embedded, and every embedding equals, bit for bit, a
     from-scratch run on B's photos in another folder;
  B again: nothing runs (EmbeddingCache and Transform cached by TFX);
  C  B plus one photo, after B's Transform output was truncated: every photo embedded, and the
     run says why;
  D  A's photos with Inception-v3 (random weights): no earlier embeddings for it, nothing reused;
  E  A's photos with Lite0 again: all reused, from C (the last Lite0 run before D).
Then, in a folder of its own, Vertex's way of finding the earlier embeddings (a pointer file
and an Importer instead of the Resolver) on the local runner.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.common import SAMPLE
from tests.support.pipeline_runs import prepare_data, run_pipeline_with_output, sample_subset

pytestmark = pytest.mark.slow

LABELS = ("daisy", "roses", "tulips")
PER_CLASS = 10
FLAGS = ("--backbone", "efficientnet_lite0", "--no-tune", "--no-data-health")


def embeddings(runs: dict) -> dict[str, np.ndarray]:
    """file name -> embedding, from a run's Transform output."""
    import tensorflow as tf

    from preprocessing import contract

    uri = runs["Transform"].output("transformed_examples").uri
    found = {}
    for record in tf.data.TFRecordDataset(tf.io.gfile.glob(f"{uri}/Split-*/*"), "GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        key = feature[contract.KEY_KEY].bytes_list.value[0].decode()
        found[key.rsplit("/", 1)[-1]] = np.asarray(feature[contract.EMBEDDING_KEY].float_list.value, np.float32)
    return found


def reuse(runs: dict) -> dict:
    return runs["EmbeddingCache"].output("joined").properties


@pytest.fixture(scope="session")  # one worker runs this module (tests/conftest.py's SHARED_RUNS): once
def reuse_runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("reuse")
    photos = sample_subset(SAMPLE, root / "photos", LABELS, PER_CLASS)
    out, found = root / "out", {}

    def run(name: str, *extra: str, output=out, prepared: Path | None = None):
        data = prepared or prepare_data(photos, root / f"data_{name}")
        runs, _, printed = run_pipeline_with_output(data, output, *FLAGS, *extra)
        found[name] = {"runs": runs, "printed": printed, "embeddings": embeddings(runs)}

    run("A")
    for label in LABELS:  # +10%: the 11th photo of each class
        new = sorted((SAMPLE / label).glob("*.jpg"))[PER_CLASS]
        shutil.copy(new, photos / label / new.name)
    found["new"] = {sorted((SAMPLE / label).glob("*.jpg"))[PER_CLASS].name for label in LABELS}
    for photo in sorted((photos / "daisy").glob("*.jpg"))[:3]:
        photo.rename(photo.with_name(f"renamed_{photo.name}"))
    for photo in sorted((photos / "roses").glob("*.jpg"))[:2]:
        photo.rename(photos / "tulips" / photo.name)
    run("B")
    run("scratch", output=root / "scratch")
    run("B_again", prepared=root / "data_B")  # the same files: ImportExampleGen is cached
    transformed = found["B"]["runs"]["Transform"].output("transformed_examples").uri
    damaged = sorted(p for p in Path(transformed).rglob("*") if p.is_file())[0]
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    found["damaged"] = str(damaged)
    extra = sorted((SAMPLE / "daisy").glob("*.jpg"))[PER_CLASS + 1]
    shutil.copy(extra, photos / "daisy" / extra.name)
    run("C")
    shutil.rmtree(photos)
    sample_subset(SAMPLE, photos, LABELS, PER_CLASS)  # A's photos again
    run("D", "--backbone", "inception_v3", "--backbone-weights", "random")
    run("E")
    return found


def test_first_run_embeds_every_photo(reuse_runs):
    a = reuse(reuse_runs["A"]["runs"])
    assert (a["photos"], a["embedded"], a["reused"], a["reason"], a["cache_uri"]) == (30, 30, 0, "", "")
    assert "Transform: 30 of 30 photos embedded, 0 reused" in reuse_runs["A"]["printed"]


def test_grown_renamed_relabelled_set_embeds_only_the_new_photos(reuse_runs):
    b = reuse(reuse_runs["B"]["runs"])
    assert (b["photos"], b["embedded"], b["reused"], b["reason"]) == (33, 3, 30, "")
    assert b["cache_uri"] == reuse_runs["A"]["runs"]["Transform"].output("transformed_examples").uri
    assert "Transform: 3 of 33 photos embedded, 30 reused" in reuse_runs["B"]["printed"]
    keys = reuse_runs["B"]["embeddings"]
    assert {k for k in keys if k.startswith("renamed_")} and set(reuse_runs["new"]) <= set(keys)


def test_reused_embeddings_are_bit_identical_to_a_from_scratch_run(reuse_runs):
    reused, scratch = reuse_runs["B"]["embeddings"], reuse_runs["scratch"]["embeddings"]
    assert reuse(reuse_runs["scratch"]["runs"])["embedded"] == 33  # its own folder: no earlier embeddings
    assert sorted(reused) == sorted(scratch) and len(reused) == 33
    different = [k for k in reused if not np.array_equal(reused[k], scratch[k])]
    assert not different, f"{len(different)} embeddings differ from a from-scratch run, e.g. {different[0]}"


def test_unchanged_data_runs_nothing(reuse_runs):
    runs = reuse_runs["B_again"]["runs"]
    assert runs["EmbeddingCache"].state == "CACHED" and runs["Transform"].state == "CACHED"
    assert "Transform: cached" in reuse_runs["B_again"]["printed"]


def test_corrupt_cache_means_a_full_re_embed_with_the_reason(reuse_runs):
    c = reuse(reuse_runs["C"]["runs"])
    assert (c["photos"], c["embedded"], c["reused"]) == (34, 34, 0)
    assert "cannot be trusted" in c["reason"] and reuse_runs["damaged"] in c["reason"]
    assert "Transform: 34 of 34 photos embedded, 0 reused" in reuse_runs["C"]["printed"]
    assert "cannot be trusted" in reuse_runs["C"]["printed"]


def test_another_backbone_reuses_nothing_and_going_back_reuses_all(reuse_runs):
    d = reuse(reuse_runs["D"]["runs"])
    assert (d["photos"], d["embedded"], d["reused"], d["cache_uri"]) == (30, 30, 0, "")
    assert len(next(iter(reuse_runs["D"]["embeddings"].values()))) == 2048
    e = reuse(reuse_runs["E"]["runs"])
    assert (e["photos"], e["embedded"], e["reused"]) == (30, 0, 30)
    assert e["cache_uri"] == reuse_runs["C"]["runs"]["Transform"].output("transformed_examples").uri


def test_vertex_dag_reuses_through_the_pointer_on_the_local_runner(tmp_path):
    """Vertex's way (pipeline/embedding_pointer.py: Importer -> EmbeddingCache -> Transform ->
    RecordEmbeddings), run by TFX's LocalDagRunner as Vertex's stand-in: vertex_runner.py compiles
    this same create_pipeline (tests/unit/test_vertex.py checks the spec), with gs:// folders
    where this has local ones. Two runs, the second with 10% more photos."""
    import json

    from pipeline import local_run

    photos = sample_subset(SAMPLE, tmp_path / "photos", LABELS, PER_CLASS)
    output, folder = tmp_path / "out", tmp_path / "embeddings"

    def run(name: str) -> dict:
        data = prepare_data(photos, tmp_path / f"data_{name}")
        args = local_run.parse_args(["--data", str(data), "--output", str(output), *FLAGS])
        return local_run.run(args, last="RecordEmbeddings", embeddings_dir=str(folder))

    first = run("first")
    assert (reuse(first)["embedded"], reuse(first)["reused"]) == (30, 0)  # no pointer yet: a first run
    for label in LABELS:
        new = sorted((SAMPLE / label).glob("*.jpg"))[PER_CLASS]
        shutil.copy(new, photos / label / new.name)
    second = run("second")
    joined = reuse(second)
    assert (joined["photos"], joined["embedded"], joined["reused"], joined["reason"]) == (33, 3, 30, "")
    assert joined["cache_uri"] == first["Transform"].output("transformed_examples").uri
    pointer = json.loads((folder / "efficientnet_lite0" / "pointer.json").read_text())
    assert pointer == {"transformed_examples": second["Transform"].output("transformed_examples").uri}
    assert len(embeddings(second)) == 33
