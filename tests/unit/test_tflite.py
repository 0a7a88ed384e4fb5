"""The phone model's parts (local_runner.py --tflite): the in-model resize equals
tf.image.resize(antialias=True), the allowed accuracy drop, the metadata inside a .tflite and
LiteRT running it, the phone model folder's latest version, pushing to a non-local filesystem.
The pushed .tflite of a real run is tests/e2e/test_tflite.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import tflite_metadata
from pipeline import phone, phone_check
from preprocessing.resize import resize_antialiased


@pytest.mark.parametrize("shape", [(333, 500), (224, 224), (120, 90), (1000, 750), (7, 300)])
def test_resize_equals_tf_image_resize_antialiased(shape):
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (*shape, 3)).astype(np.float32))
    expected = tf.image.resize(image, [224, 224], method="bilinear", antialias=True)
    np.testing.assert_allclose(resize_antialiased(image, 224).numpy(), expected.numpy(), atol=1e-3)


def test_drop_allowed_is_one_point_or_one_photo_whichever_is_more():
    assert [phone_check.allowed_drop(n) for n in (20, 100, 150, 200, 1000)] == [1, 1, 1, 2, 10]
    assert phone_check.verdict(18, 17, 20)[0] and not phone_check.verdict(18, 16, 20)[0]
    assert phone_check.verdict(180, 178, 200)[0] and not phone_check.verdict(180, 177, 200)[0]
    assert phone_check.verdict(10, 12, 20)[0]  # better than the SavedModel is fine


def test_metadata_round_trip_and_the_interpreter_runs_the_file(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="image")])
    def scores(image):
        return {"scores": tf.nn.softmax(tf.reduce_mean(tf.cast(image, tf.float32), axis=[1, 2]))}

    model = tf.lite.TFLiteConverter.from_concrete_functions([scores.get_concrete_function()], scores).convert()
    written = tflite_metadata.PhoneMetadata(
        "m", "d", "7", "image", "in", 224, "scores", "out", "labels.txt", ["a", "b"]
    )
    populated = tflite_metadata.populate(model, written)
    assert tflite_metadata.read_metadata(populated) == written
    interpreter = Interpreter(model_content=populated)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [1, 224, 224, 3])
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, np.full((1, 224, 224, 3), 9, np.uint8))
    interpreter.invoke()
    assert interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).shape == (1, 3)
    with pytest.raises(ValueError, match="TFLITE_METADATA"):
        tflite_metadata.read_metadata(model)


def test_a_phone_model_folder_means_its_latest_model_tflite(tmp_path):
    from tastebud.tflite_model import phone_model_in

    base = tmp_path / "tflite" / "tastebud"
    for version in ("9", "10"):
        (base / version).mkdir(parents=True)
        (base / version / "model.tflite").write_bytes(b"TFL3")
    (base / "11.partial123").mkdir()
    assert phone_model_in(str(base)) == str(base / "10" / "model.tflite")
    assert phone_model_in(str(base / "9")) == str(base / "9" / "model.tflite")
    assert phone_model_in(str(tmp_path)) == str(tmp_path)  # no phone model: as given (a serving dir, say)
    assert phone_model_in("gs://b/x.tflite") == "gs://b/x.tflite"


def test_push_and_artifact_copy_work_on_a_non_local_filesystem(tmp_path):
    """Vertex writes to gs://, which TF's GCS client reaches only in the cloud; TF's in-memory
    ram:// filesystem is the stand-in: the same tf.io.gfile calls, no local paths or renames."""
    (tmp_path / "work" / "saved_model").mkdir(parents=True)
    (tmp_path / "work" / "model.tflite").write_bytes(b"TFL3 model")
    (tmp_path / "work" / "saved_model" / "saved_model.pb").write_bytes(b"pb")
    for _ in range(2):  # the same version pushed again replaces it
        phone.push(tmp_path / "work" / "model.tflite", ["daisy", "tulips"], "ram://bucket/tflite/m/7")
    assert sorted(tf.io.gfile.listdir("ram://bucket/tflite/m/7")) == ["labels.txt", "model.tflite"]
    assert tf.io.gfile.GFile("ram://bucket/tflite/m/7/labels.txt").read() == "daisy\ntulips\n"
    phone.copy_tree(tmp_path / "work", "ram://bucket/root/PhoneExport/phone_model/3")
    assert tf.io.gfile.GFile("ram://bucket/root/PhoneExport/phone_model/3/saved_model/saved_model.pb").read() == "pb"
