"""Label CSVs as people make them, and folders in dot folders: real `prepare` (Beam DirectRunner) on each.

The same 36 generated photos (3 classes x 12) live under a dot folder, as Keras'
`get_file` puts the flowers tutorial set in `~/.keras/datasets/`; each CSV form lists
them all, and each must give the same 36 examples with the same labels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tensorflow as tf

from data import accounting, csv_source, report
from tastebud.cli import main as cli
from tests.support.synthetic import class_folders, with_extraneous_bytes

LABELS = ["crème brûlée", "daisy", "tulips"]


@pytest.fixture(scope="module")
def keras_home(tmp_path_factory) -> tuple[Path, list[tuple[Path, str]]]:
    """(the photo folder, its (path, label) rows): <tmp>/home/.keras/datasets/photos/<label>/NN.jpg."""
    root = tmp_path_factory.mktemp("home") / ".keras" / "datasets" / "photos"
    return root, class_folders(root, LABELS, per_class=12)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _relative(rows, base: Path, sep: str = "/") -> list[tuple[str, str]]:
    return [(str(p.relative_to(base)).replace("/", sep), label) for p, label in rows]


def absolute_paths(root: Path, rows, tmp: Path) -> Path:
    """Absolute paths through the dot folder, from a CSV elsewhere; plain UTF-8, no header."""
    return _write(tmp / "absolute.csv", "".join(f"{p},{label}\n" for p, label in rows))


def excel_utf8(root: Path, rows, tmp: Path) -> Path:
    """Excel's "CSV UTF-8": a BOM, CRLF, header `filename,class`, quoted paths; beside the photos."""
    body = "".join(f'"{p}",{label}\r\n' for p, label in _relative(rows, root.parent))
    return _write(root.parent / "excel_utf8.csv", "\ufefffilename,class\r\n" + body)


def excel_cp1252(root: Path, rows, tmp: Path) -> Path:
    """Excel's "CSV" on a European Windows: cp1252, `;`-separated, header `path;label`."""
    body = "".join(f"{p};{label}\r\n" for p, label in _relative(rows, root.parent))
    return _write(root.parent / "excel_cp1252.csv", "path;label\r\n" + body, encoding="cp1252")


def windows_paths(root: Path, rows, tmp: Path) -> Path:
    """Relative Windows paths (`photos\\daisy\\00.jpg`), no header."""
    body = "".join(f"{p},{label}\n" for p, label in _relative(rows, root.parent, "\\"))
    return _write(root.parent / "windows.csv", body)


def tab_label_first(root: Path, rows, tmp: Path) -> Path:
    """Tab-separated, the label column first, header `Category<TAB>Image`."""
    body = "".join(f"{label}\t{p}\n" for p, label in _relative(rows, root.parent))
    return _write(root.parent / "tabs.csv", "Category\tImage\n" + body)


@pytest.mark.parametrize("form", [absolute_paths, excel_utf8, excel_cp1252, windows_paths, tab_label_first])
def test_each_csv_form_writes_every_photo_with_its_label(form, keras_home, tmp_path, capsys):
    root, rows = keras_home
    csv_path = form(root, rows, tmp_path)
    out = tmp_path / "data"
    assert cli(["prepare", str(csv_path), "--out", str(out)]) == 0, capsys.readouterr().err
    written = {Path(w.key): w.label for w in accounting.read_written(str(out))}
    assert written == {p: label for p, label in rows}  # all 36, each with its own label
    assert "crème brûlée" in written.values()
    summary = json.loads((out / report.SUMMARY_FILE).read_text(encoding="utf-8"))
    assert (summary["input"], summary["written"], summary["skipped"]) == (36, 36, 0)
    notes = " | ".join(summary["notes"])
    assert ("Windows-1252" in notes) == (form is excel_cp1252)
    assert ("36 Windows-style paths read with '/'" in notes) == (form is windows_paths)
    captured = capsys.readouterr()
    assert "wrote " in captured.out and not re.search(r"^error:", captured.err, re.MULTILINE)


def test_dot_folder_source_and_a_decoder_warning_leave_no_stray_line(keras_home, tmp_path, capfd):
    """A folder SOURCE inside ~/.keras/..., one JPEG with bytes libjpeg complains about:
    it is written, its warning goes to notes.csv, and no line outside tastebud's own is printed
    (capfd sees file descriptors 1 and 2, where libjpeg writes)."""
    root, rows = keras_home
    source = tmp_path / ".cache" / "photos"
    for p, label in rows:
        (source / label).mkdir(parents=True, exist_ok=True)
        (source / label / p.name).write_bytes(p.read_bytes())
    noisy = source / "daisy" / "noisy.jpg"
    noisy.write_bytes(with_extraneous_bytes(rows[0][0].read_bytes()))
    out = tmp_path / "data"
    _ = tf.constant(0)  # TensorFlow's one-off device start-up lines come before the window, not in it
    capfd.readouterr()
    assert cli(["prepare", str(source), "--out", str(out)]) == 0
    captured = capfd.readouterr()
    assert "Corrupt JPEG" not in captured.out + captured.err
    ours = re.compile(r"^(\[prepare\] |note: |warning: |\d+ (rejected|skipped))")
    assert [line for line in captured.err.splitlines() if line.strip() and not ours.match(line)] == []
    written = {Path(w.key).relative_to(source).as_posix() for w in accounting.read_written(str(out))}
    assert len(written) == 37 and "daisy/noisy.jpg" in written
    notes = accounting.read_rejected(str(out / report.NOTES_FILE))
    assert [Path(uri).name for uri, _ in notes] == ["noisy.jpg"]
    assert "Corrupt JPEG data" in notes[0][1] and "extraneous bytes" in notes[0][1]
    assert "1 photo(s) decoded with a warning" in captured.out


def test_single_class_is_refused_before_any_work(keras_home, tmp_path, capsys):
    """Issue 23's refusal, in `prepare`: exit 2 naming the fix, for a folder and for a CSV."""
    _, rows = keras_home
    daisy = [(p, label) for p, label in rows if label == "daisy"]
    folder = tmp_path / "one_class"
    (folder / "daisy").mkdir(parents=True)
    for p, _ in daisy:
        (folder / "daisy" / p.name).write_bytes(p.read_bytes())
    one_csv = _write(tmp_path / "one.csv", "".join(f"{p},{label}\n" for p, label in daisy))
    for source in (folder, one_csv):
        out = tmp_path / "data"
        assert cli(["prepare", str(source), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "has a single class, 'daisy' (12 photos)" in err and "Add a second class, such as 'other'" in err
        assert not out.exists()  # refused before any Beam work


def test_small_class_warning_says_what_it_costs():
    warnings = report.class_warnings({"daisy": {"train": 30, "eval": 3}, "rare": {"train": 4, "eval": 0}})
    assert len(warnings) == 2  # the small class, and the imbalance
    assert "class 'rare' has only 4 images" in warnings[0]
    assert "from 4 training photo(s)" in warnings[0] and "no eval photo, so nothing measures" in warnings[0]


def test_first_row_neither_file_nor_header_is_reported_as_such(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    listing = csv_source.parse_csv("foto,etikett\na.jpg,cat\n", str(tmp_path))
    assert [i.uri for i in listing.items] == [f"{tmp_path}/a.jpg"]
    assert len(listing.bad_rows) == 1 and listing.bad_rows[0].origin == "row 1"
    assert "neither a file that exists nor a known header" in listing.bad_rows[0].reason


def test_two_readings_with_different_labels_are_never_guessed_between(tmp_path):
    text = "x,1.jpg;cat\ny,2.jpg;dog\n"  # ',' reads (x, 1.jpg;cat), ';' reads (x,1.jpg, cat)
    with pytest.raises(ValueError, match="more than one separator"):
        csv_source.parse_csv(text, str(tmp_path))
    for name in ("x,1.jpg", "y,2.jpg"):  # the ';' reading's files exist: that settles it, with a note
        (tmp_path / name).write_bytes(b"x")
    listing = csv_source.parse_csv(text, str(tmp_path))
    assert [i.label for i in listing.items] == ["cat", "dog"]
    assert "separated by ';', not ','" in listing.notes[0]


def test_system_files_are_judged_below_the_csv_folder_only(tmp_path):
    hidden = tmp_path / ".keras" / "photos"
    hidden.mkdir(parents=True)
    rows = [f"{hidden}/a.jpg,cat", "sub/.hidden/b.jpg,cat", "../.elsewhere/c.jpg,dog", f"{hidden}/._d.jpg,dog"]
    (hidden / "a.jpg").write_bytes(b"x")
    listing = csv_source.parse_csv("\n".join(rows) + "\n", str(tmp_path / "lists"))
    assert [Path(i.uri).name for i in listing.items] == ["a.jpg", "c.jpg"]
    assert [Path(s.uri).name for s in listing.skipped] == ["b.jpg", "._d.jpg"]


def test_neither_utf8_nor_cp1252_is_a_clear_error():
    with pytest.raises(ValueError, match="neither UTF-8 nor Windows-1252"):
        csv_source.decode(b"a.jpg,caf\x81\n", "labels.csv")  # 0x81 is undefined in cp1252
