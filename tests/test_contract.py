"""The contract (preprocessing/contract.py) and the format table (preprocessing/formats.py),
checked from outside: without TensorFlow, against real files and TensorFlow's own decoders."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from preprocessing import contract, formats

REPO = Path(__file__).resolve().parent.parent
PIXELS = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def test_the_contract_and_the_table_import_without_tensorflow_or_the_project():
    code = (
        "import sys; import preprocessing.contract, preprocessing.formats, tastebud.requests_format; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'preprocessing', 'models', 'data', 'pipeline', 'tastebud')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert eval(out) == [
        "preprocessing",
        "preprocessing.contract",
        "preprocessing.formats",
        "tastebud",
        "tastebud.requests_format",
    ]


def test_the_names_clients_and_tf_serving_see():
    assert contract.SERVING_SIGNATURE == "serving_default"
    assert (contract.IMAGE_INPUT, contract.KEY_INPUT) == ("image_bytes", "key")
    assert contract.SERVING_OUTPUTS == ("key", "label", "score", "scores", "classes")
    assert (contract.EXAMPLES_SIGNATURE, contract.LABEL_SIGNATURE) == ("serving_examples", "label_index")
    assert contract.MODEL_LABELS_FILE == "assets.extra/dict.txt"
    assert contract.PREPARE_FILES == (
        "dict.txt",
        "rejected.csv",
        "skipped.csv",
        "notes.csv",
        "near_duplicates.csv",
        "summary.json",
    )
    assert (contract.TFLITE_FILE, contract.PHONE_LABELS_FILE) == ("model.tflite", "labels.txt")


def test_read_labels_strips_skips_blanks_and_reads_a_bom_and_crlf(tmp_path):
    text = "\ufeffdaisy\r\n\r\n  crème brûlée \r\n\t\nroses\r\n"
    assert contract.read_labels(text) == ["daisy", "crème brûlée", "roses"]
    assert contract.read_labels(text.encode("utf-8")) == ["daisy", "crème brûlée", "roses"]
    assert contract.read_labels(b"a\nb") == ["a", "b"] and contract.read_labels("") == []
    path = tmp_path / "dict.txt"
    path.write_bytes(text.encode("utf-8"))
    assert contract.read_labels_file(str(path)) == ["daisy", "crème brûlée", "roses"]
    text_opener = lambda p: open(p, encoding="utf-8", newline="")  # noqa: E731 (a text file, as tf.io.gfile's)
    assert contract.read_labels_file(str(path), text_opener) == ["daisy", "crème brûlée", "roses"]
    assert contract.read_labels(contract.labels_text(["a", "b c"])) == ["a", "b c"]


def _pillow(name: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, name)
    return buffer.getvalue()


def _heic() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    return _pillow("HEIF")


def _avif() -> bytes:
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF encoder")
    return _pillow("AVIF")


MAKERS = {name: (lambda n=name: _pillow(n)) for name in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")}
MAKERS.update(HEIC=_heic, AVIF=_avif)


@pytest.mark.parametrize("name", MAKERS)
def test_the_table_names_real_files_and_knows_what_tensorflow_decodes(name):
    import tensorflow as tf

    data = MAKERS[name]()
    found = formats.sniff(data)
    assert found is not None and found.name == name
    assert formats.sniff(data, decodable=not found.decodable) is None
    try:
        decoded = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        decoded = None
    assert found.decodable == (decoded is not None)
    if found is formats.JPEG:
        assert tf.io.decode_jpeg(data, channels=3).shape == PIXELS.shape
    Image.init()
    if name in Image.MIME:  # what Pillow says of the formats it knows
        assert Image.MIME[name] == found.mime_types[0]
        known = Image.registered_extensions()
        assert {known.get(f".{e}", name) for e in found.extensions} == {name}


def test_container_formats_are_told_apart():
    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = major + b"\0\0\0\0" + b"".join(compatible)
        return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0" * 16

    assert formats.sniff(ftyp(b"avif", b"mif1", b"miaf")) is formats.AVIF
    assert formats.sniff(ftyp(b"heic", b"mif1")) is formats.HEIC
    assert formats.sniff(ftyp(b"isom", b"mp41")).kind == "video"
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\0" * 32
    assert formats.sniff(tiff) is formats.TIFF and formats.sniff(tiff, "DSC_0001.NEF").description == "Nikon NEF"
    assert formats.sniff(b"II*\x00\x10\x00\x00\x00CR\x02\x00").description == "Canon CR2"
    assert formats.sniff(b"hello") is None and formats.sniff(b"") is None


def test_the_upload_page_accepts_what_the_table_calls_decodable():
    page = (REPO / "tastebud" / "web" / "static" / "index.html").read_text()
    assert re.search(r'accept="([^"]*)"', page).group(1).split(",") == list(formats.ACCEPTED_TYPES)
    assert formats.DECODABLE_NAMES == {"JPEG", "PNG", "GIF", "BMP", "WEBP"}
