"""Embedding reuse by content, piece by piece: the keys (preprocessing/embedding_cache.py), the
gather-embed-scatter inside Transform with a stand-in backbone (a function of the bytes, so a
reused row and an embedded one are told apart), the EmbeddingCache Beam join on the DirectRunner
(pipeline/embedding_cache.py) with a good, a corrupt and a foreign cache, and the run's line.
The whole pipeline run twice on growing data is tests/e2e/test_embedding_reuse.py."""

from __future__ import annotations

import gzip

import apache_beam as beam
import pytest
import tensorflow as tf

from pipeline import embedding_cache as join
from preprocessing import contract
from preprocessing.backbones import RANDOM_WEIGHTS
from preprocessing.embedding_cache import content_key, embed_missing, fingerprint, without_cache

SIZE = 4
FP = "ab" * 32


def fake_embed(images: tf.Tensor) -> tf.Tensor:
    """[m] bytes -> [m, SIZE]: each row its byte length, plus 0.5 (a cached row is a whole number)."""
    lengths = tf.cast(tf.strings.length(images), tf.float32) + 0.5
    return tf.tile(lengths[:, None], [1, SIZE])


def sparse_rows(rows: list[list], dtype) -> tf.SparseTensor:
    indices = [[i, j] for i, row in enumerate(rows) for j in range(len(row))]
    values = [v for row in rows for v in row]
    width = max([len(r) for r in rows] + [0])
    return tf.SparseTensor(
        tf.constant(indices, tf.int64, [len(indices), 2]), tf.constant(values, dtype), [len(rows), width]
    )


def test_key_is_the_bytes_and_the_fingerprint_not_the_name():
    assert content_key(FP, b"photo") == content_key(FP, b"photo")  # any path, any label
    assert content_key(FP, b"photo") != content_key(FP, b"photo!")
    assert content_key(FP, b"photo") != content_key("cd" * 32, b"photo")
    assert content_key(FP, b"photo").startswith(FP[:16] + ":")


def test_fingerprint_changes_with_backbone_and_weights():
    lite_random = fingerprint("efficientnet_lite0", RANDOM_WEIGHTS)
    assert lite_random == fingerprint("efficientnet_lite0", RANDOM_WEIGHTS)
    assert lite_random != fingerprint("inception_v3", RANDOM_WEIGHTS)
    assert lite_random != fingerprint("efficientnet_lite0", None)  # the ImageNet checkpoint


def test_fingerprint_changes_with_the_decode_code(monkeypatch, tmp_path):
    from preprocessing import embedding_cache

    before = fingerprint("efficientnet_lite0", RANDOM_WEIGHTS)
    for name in embedding_cache.EMBEDDING_CODE:
        (tmp_path / name).write_bytes((embedding_cache.Path(embedding_cache.__file__).parent / name).read_bytes())
    (tmp_path / "exif.py").write_text("# another orientation rule\n")
    monkeypatch.setattr(embedding_cache, "__file__", str(tmp_path / "embedding_cache.py"))
    assert fingerprint("efficientnet_lite0", RANDOM_WEIGHTS) != before


def test_only_rows_without_a_usable_cached_embedding_are_embedded():
    images = tf.constant([b"a", b"bb", b"ccc", b"dddd", b"eeeee"])
    good = [7.0] * SIZE
    cached = [good, [], [1.0] * (SIZE - 1), [float("nan")] * SIZE, good]
    keys = [[content_key(FP, b"a")], [content_key(FP, b"bb")], [content_key(FP, b"ccc")], [content_key(FP, b"d")]]
    keys.append([content_key("cd" * 32, b"eeeee")])  # cached under another fingerprint
    out = embed_missing(
        images, sparse_rows(cached, tf.float32), sparse_rows(keys, tf.string), FP, fake_embed, SIZE
    ).numpy()
    assert out[0].tolist() == good  # reused, bit for bit
    assert [row[0] for row in out[1:]] == [2.5, 3.5, 4.5, 5.5]  # missing, short, not finite, foreign


def test_no_cache_embeds_every_row_and_an_empty_batch_is_empty():
    images = tf.constant([b"a", b"bb"])
    features = without_cache(images, {contract.CONTENT_KEY: 1, contract.CACHED_EMBEDDING_KEY: 1})
    out = embed_missing(
        images, features[contract.CACHED_EMBEDDING_KEY], features[contract.CONTENT_KEY], FP, fake_embed, SIZE
    )
    assert out.numpy()[:, 0].tolist() == [1.5, 2.5]
    empty = tf.constant([], tf.string)
    features = without_cache(empty, {contract.CONTENT_KEY: 1, contract.CACHED_EMBEDDING_KEY: 1})
    out = embed_missing(
        empty, features[contract.CACHED_EMBEDDING_KEY], features[contract.CONTENT_KEY], FP, fake_embed, SIZE
    )
    assert out.shape == (0, SIZE)


# ---- the Beam join ------------------------------------------------------------------


def example(**features) -> bytes:
    e = tf.train.Example()
    for name, value in features.items():
        if isinstance(value, bytes):
            e.features.feature[name].bytes_list.value.append(value)
        else:
            e.features.feature[name].float_list.value.extend(value)
    return e.SerializeToString()


def write_records(path, records: list[bytes]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), "GZIP") as w:
        for r in records:
            w.write(r)
    return str(path)


PHOTOS = {"train": [b"one", b"two", b"three"], "eval": [b"four"]}


@pytest.fixture
def examples(tmp_path) -> dict[str, str]:
    """prepare's examples: 3 train photos and 1 eval photo."""
    for split, images in PHOTOS.items():
        records = [example(image=img, label=b"x", key=f"{split}/{i}".encode()) for i, img in enumerate(images)]
        write_records(tmp_path / "examples" / f"Split-{split}" / "data.gz", records)
    return {split: str(tmp_path / "examples" / f"Split-{split}" / "*") for split in PHOTOS}


def cache_of(tmp_path, images: list[bytes], fp: str = FP, size: int = SIZE) -> list[str]:
    """An earlier Transform output holding these photos' embeddings (value: the photo's length)."""
    rows = [example(content_key=content_key(fp, img).encode(), embedding=[float(len(img))] * size) for img in images]
    return [write_records(tmp_path / "cache" / "Split-train" / "data.gz", rows)]


def joined(out: str) -> dict[str, list]:
    """split -> [(key, cached embedding or None)] of the join's output; checks that every photo
    has its content key and its own bytes, unless its embedding is cached (then no bytes)."""
    found = {}
    for split, images in PHOTOS.items():
        rows = []
        for r in tf.data.TFRecordDataset(tf.io.gfile.glob(f"{out}/Split-{split}/*")):  # uncompressed
            f = tf.train.Example.FromString(r.numpy()).features.feature
            key = f[contract.KEY_KEY].bytes_list.value[0].decode()
            image = f[contract.IMAGE_KEY].bytes_list.value[0]
            assert f[contract.CONTENT_KEY].bytes_list.value[0].decode() == content_key(FP, images[int(key[-1])])
            cached = list(f[contract.CACHED_EMBEDDING_KEY].float_list.value)
            assert image == (b"" if cached else images[int(key[-1])])
            rows.append((key, cached or None))
        found[split] = sorted(rows)
    return found


def test_join_attaches_cached_embeddings_by_content(tmp_path, examples):
    out = str(tmp_path / "out")
    stats = join.join(examples, cache_of(tmp_path, [b"two", b"four", b"gone"]), FP, SIZE, out, beam.Pipeline())
    assert stats == {"photos": 4, "reused": 2, "embedded": 2, "reason": ""}
    rows = joined(out)
    assert rows["train"] == [("train/0", None), ("train/1", [3.0] * SIZE), ("train/2", None)]
    assert rows["eval"] == [("eval/0", [4.0] * SIZE)]


def test_a_candidate_without_its_cached_embedding_stops_the_join():
    """Route sends a photo to the join without its bytes only when the cache's key set holds its
    key; should the join then find no embedding, writing the row would lose the photo."""
    with pytest.raises(RuntimeError, match="no cached embedding"):
        list(join.attach(("k", {"photos": [("train", b"")], "cached": []})))
    record = example(image=b"one", label=b"x", key=b"train/0")
    held = {content_key(FP, b"one")}
    whole = list(join.route(record, "train", FP, held, ["refused"]))
    assert [(split, reused) for split, _, reused in whole] == [("train", False)]  # a refused cache: kept whole


@pytest.mark.parametrize("damage", ["truncated", "wrong size", "not a record"])
def test_a_cache_that_cannot_be_trusted_is_not_used_at_all(tmp_path, examples, damage):
    size = SIZE - 1 if damage == "wrong size" else SIZE
    files = cache_of(tmp_path, [b"one", b"two", b"three", b"four"] * 50, size=size)
    data = open(files[0], "rb").read()
    if damage == "truncated":
        open(files[0], "wb").write(data[: len(data) // 2])
    elif damage == "not a record":
        open(files[0], "wb").write(gzip.compress(b"not a TFRecord at all" * 10))
    out = str(tmp_path / "out")
    stats = join.join(examples, files, FP, SIZE, out, beam.Pipeline())
    assert stats["reused"] == 0 and stats["embedded"] == 4
    assert "cannot be trusted" in stats["reason"] and files[0] in stats["reason"]
    assert all(cached is None for rows in joined(out).values() for _, cached in rows)


def test_a_cache_from_another_fingerprint_reuses_nothing_and_says_why(tmp_path, examples):
    foreign = cache_of(tmp_path, PHOTOS["train"], fp="cd" * 32)
    stats = join.join(examples, foreign, FP, SIZE, str(tmp_path / "o"), beam.Pipeline())
    assert stats["reused"] == 0 and "another backbone" in stats["reason"]
    first_run = join.join(examples, [], FP, SIZE, str(tmp_path / "first"), beam.Pipeline())
    assert first_run == {"photos": 4, "reused": 0, "embedded": 4, "reason": ""}


def test_saved_seconds_is_the_slope_between_the_two_runs():
    # 605 photos from scratch in 67 s, then 55 new in 12.5 s: (67 - 12.5) / 550 s per photo.
    assert join.saved_seconds((12.5, 55), (67.0, 605), 550) == pytest.approx(54.5)
    assert join.saved_seconds((13.7, 0), (9.5, 4), 43) is None  # no slope: no estimate (not 9.5 / 4 x 43)
    assert join.saved_seconds((9.0, 5), (8.0, 60), 50) is None  # noise: the earlier run was faster
    line = join.summary_line({"photos": 605, "reused": 550, "embedded": 55, "reason": ""}, 54.5)
    assert line == "Transform: 55 of 605 photos embedded, 550 reused (saved ~54 s)"


def test_the_vertex_pointer_names_the_earlier_embeddings_or_says_why_not(tmp_path):
    """pipeline/embedding_pointer.py: a missing pointer is a first run; one that does not read, or
    names an output that is gone, gives the reason EmbeddingCache reports (every photo embedded)."""
    from pipeline import embedding_pointer as pointer

    assert pointer.pointer_dir("gs://b/e/", "inception_v3", None) == "gs://b/e/inception_v3"
    assert pointer.pointer_dir("gs://b/e", "inception_v3", "gs://w/a.h5") != pointer.pointer_dir(
        "gs://b/e", "inception_v3", "gs://w/b.h5"
    )
    folder = str(tmp_path / "lite0")
    assert pointer.pointed_files(folder) == ("", [], "")
    transformed = tmp_path / "Transform" / "7"
    pointer.write_pointer(folder, {"transformed_examples": str(transformed)})
    uri, files, problem = pointer.pointed_files(folder)
    assert (uri, files) == (str(transformed), []) and "are gone" in problem
    for split in ("eval", "train"):
        (transformed / f"Split-{split}").mkdir(parents=True)
        (transformed / f"Split-{split}" / "data.gz").write_bytes(b"")
    assert pointer.pointed_files(folder) == (str(transformed), pointer.files_under(str(transformed)), "")
    assert pointer.files_under(str(transformed))[0].endswith("Split-train/data.gz")
    (tmp_path / "lite0" / "pointer.json").write_text("{not json")
    assert "does not read" in pointer.pointed_files(folder)[2]
