"""Near-duplicate photos in `tastebud prepare`: banding finds what brute force finds, --exclude
skips, the bundled sample's distinct photos never group. Resized and re-saved copies among
1,000 photos staying in their original's split on every runner setting: tests/e2e/test_near_duplicates.py."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image

from data import accounting, near_duplicates, prepare
from tastebud.cli import main as cli


def _brute_force(hashes: dict[str, int], threshold: int) -> set[tuple[str, str]]:
    return {
        (a, b)
        for a, b in itertools.combinations(sorted(hashes), 2)
        if near_duplicates.hamming(hashes[a], hashes[b]) <= threshold
    }


def _flip(value: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value


@pytest.mark.parametrize("threshold", [3, near_duplicates.THRESHOLD])
def test_banding_finds_exactly_the_pairs_brute_force_finds(threshold):
    rng = random.Random(threshold)
    hashes = {f"r{i:04d}": rng.getrandbits(64) for i in range(1500)}
    for i in range(60):  # near pairs at every distance up to threshold + 3, some chained (r0000 ~ p0 ~ q0)
        base = hashes[f"r{i:04d}"]
        hashes[f"p{i:02d}"] = _flip(base, i % (threshold + 4), rng)
        hashes[f"q{i:02d}"] = _flip(hashes[f"p{i:02d}"], i % 3, rng)
    expected = _brute_force(hashes, threshold)
    assert len(expected) > 60
    assert near_duplicates.candidate_pairs(hashes, threshold, threshold + 1) == expected


def test_a_huge_bucket_is_compared_with_its_first_member_only():
    members = [(f"white{i:04d}.jpg", 0, f"sha{i}", "snow") for i in range(near_duplicates.BUCKET_CAP + 1)]
    pairs = list(near_duplicates.bucket_pairs(list(reversed(members))))
    assert len(pairs) == near_duplicates.BUCKET_CAP and {a for a, _ in pairs} == {members[0]}
    groups = near_duplicates.build_groups(pairs)
    assert {g["rep"] for g in groups.values()} == {"white0000.jpg"} and len(groups) == len(members)


def test_groups_keep_the_largest_file_then_the_shortest_uri_and_report_the_distance_to_it():
    """The original (most bytes) is kept over a smaller re-saved copy with a shorter name, so
    `prepare --exclude near_duplicates.csv` drops the copies; equal sizes: the shortest URI."""
    a, b, c = (
        ("x/IMG_1 copy.jpg", 0b1, "s1", "tulips", 900),
        ("x/IMG_1.jpg", 0b0, "s2", "tulips", 900),
        ("x/z.jpg", 0b111, "s3", "roses", 300),
    )
    groups = near_duplicates.build_groups([(a, b), (a, c)])
    assert {g["rep"] for g in groups.values()} == {"x/IMG_1.jpg"}
    assert sorted(near_duplicates.csv_rows(groups)) == [
        ("x/IMG_1 copy.jpg", "tulips", 1, "x/IMG_1.jpg", 1),
        ("x/z.jpg", "roses", 1, "x/IMG_1.jpg", 3),
    ]


def test_a_group_goes_whole_into_one_split_and_plain_photos_split_as_before():
    plain = [f"sha{i}" for i in range(20)]
    assert dict(prepare.assign_splits(("c", plain), 0, 0.1)) == dict(
        prepare.assign_splits(("c", [(s, 1) for s in plain]), 0, 0.1)
    )
    units = [(s, 5 if i % 4 == 0 else 1) for i, s in enumerate(plain)]
    splits = dict(prepare.assign_splits(("c", units), 0, 0.1))
    eval_size = sum(size for sha, size in units if splits[sha] == "eval")
    assert 4 <= eval_size <= 4 + 4  # round(40 * 0.1) photos, overshot by at most one group


def test_distinct_sample_photos_never_group_and_their_resized_copies_do(sample_dir):
    phash = near_duplicates.perceptual_hasher()
    photos = sorted(sample_dir.glob("*/*.jpg"))
    hashes = {str(p): phash(p.read_bytes()) for p in photos}
    assert len(photos) == 200 and near_duplicates.candidate_pairs(hashes) == set()
    image = Image.open(photos[0])
    buffer = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(buffer, format="JPEG", quality=40)
    assert near_duplicates.hamming(phash(buffer.getvalue()), hashes[str(photos[0])]) <= near_duplicates.THRESHOLD


def _upright_by_exif(data: bytes) -> bytes:
    """The photo stored turned, with EXIF orientation 6 (turn clockwise to view)."""
    image = Image.open(io.BytesIO(data)).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def test_the_hash_is_taken_upright(sample_dir):
    phash = near_duplicates.perceptual_hasher()
    original = sorted(sample_dir.glob("daisy/*.jpg"))[0].read_bytes()
    turned = _upright_by_exif(original)
    assert near_duplicates.hamming(phash(turned), phash(original)) <= near_duplicates.THRESHOLD
    buffer = io.BytesIO()
    Image.open(io.BytesIO(turned)).save(buffer, format="JPEG", quality=90)  # the same pixels, EXIF dropped
    assert near_duplicates.hamming(phash(buffer.getvalue()), phash(original)) > near_duplicates.THRESHOLD


def _splits(out: Path) -> dict[str, str]:
    return {w.key: w.split for w in accounting.read_written(str(out))}


@pytest.fixture()
def small_folder(tmp_path, sample_dir) -> Path:
    root = tmp_path / "photos"
    for label in ("daisy", "roses"):
        (root / label).mkdir(parents=True)
        for photo in sorted((sample_dir / label).glob("*.jpg"))[:10]:
            shutil.copy(photo, root / label / photo.name)
    return root


def test_exclude_skips_the_listed_photos_with_the_reason(small_folder, tmp_path):
    dropped = sorted(str(p) for p in small_folder.glob("daisy/*.jpg"))[:2]
    health = tmp_path / "data_health.csv"
    health.write_text(
        "uri,label,issue,suggested_label,score,other_uri\n" + "".join(f"{u},daisy,label,roses,0.9,\n" for u in dropped)
    )
    out = tmp_path / "out"
    assert cli(["prepare", str(small_folder), "--out", str(out), "--exclude", str(health)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["input"], summary["written"], summary["skipped"]) == (20, 18, 2)
    with open(out / "skipped.csv", newline="") as f:
        skipped = {r["uri"]: r["reason"] for r in csv.DictReader(f)}
    assert skipped == {u: f"skipped: excluded by {health}" for u in dropped}
    assert not set(dropped) & set(_splits(out))


@pytest.mark.parametrize("content", [None, "path,label\nx.jpg,daisy\n", "folder"])
def test_exclude_refuses_a_missing_file_a_folder_or_one_without_a_uri_column(small_folder, tmp_path, capsys, content):
    bad = tmp_path / "drop.csv"
    if content == "folder":
        bad.mkdir()
    elif content is not None:
        bad.write_text(content)
    out = tmp_path / "out"
    assert cli(["prepare", str(small_folder), "--out", str(out), "--exclude", str(bad)]) == 2
    err = capsys.readouterr().err
    expected = {None: "not found", "folder": "is a folder"}.get(content, "no 'uri' column")
    assert f"error: --exclude {bad}" in err and expected in err, err
    assert not (out / "train").exists()


def test_exclude_reads_lists_as_excel_writes_them_and_applies_every_list(small_folder, tmp_path, capsys):
    """Two lists: one `;`-separated in cp1252 with a `URI` header (German Excel), one with a row
    that matches no photo (said in a note); both apply. Leaving out a whole class says so."""
    daisies, roses = sorted(small_folder.glob("daisy/*.jpg")), sorted(small_folder.glob("roses/*.jpg"))
    excel = tmp_path / "Liste.csv"
    excel.write_bytes(("URI;Grund\r\n" + f"{daisies[0]};unscharf \u00e4\r\n").encode("cp1252"))
    typo = tmp_path / "more.csv"
    typo.write_text(f"uri\n{roses[0]}\n{small_folder}/roses/no_such_photo.jpg\n")
    out = tmp_path / "out"
    assert cli(["prepare", str(small_folder), "--out", str(out), "--exclude", str(excel), "--exclude", str(typo)]) == 0
    printed = capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["input"], summary["written"], summary["skipped"]) == (20, 18, 2)
    assert f"1 of the 2 photos {typo} lists are not in the source" in printed.out
    assert "--exclude): see" in printed.err
    whole_class = tmp_path / "all_roses.csv"
    whole_class.write_text("uri\n" + "".join(f"{p}\n" for p in roses))
    assert cli(["prepare", str(small_folder), "--out", str(tmp_path / "o2"), "--exclude", str(whole_class)]) == 2
    assert "single class after --exclude left out 10 photos" in capsys.readouterr().err
