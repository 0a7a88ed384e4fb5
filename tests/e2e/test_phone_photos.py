"""Phone photos through the real pipeline's outputs: the Transform graph, the pushed
SavedModel, the TF Serving REST stand-in and the web app (the `flowers` fixture's run).

* Each of the 8 EXIF orientations: a photo stored turned/flipped with the matching tag
  gets the same embedding and scores as the upright photo (JPEG re-encoding error only).
* The whole sample stored sideways with a tag keeps its labels (>= 98 % agreement).
* Big photos decoded at 1/2-1/8 scale in the DCT get the labels of a full decode.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from fastapi.testclient import TestClient
from PIL import Image

from preprocessing import features
from preprocessing.backbones import get_backbone
from tastebud.clients import LocalClient, RestClient
from tastebud.web.app import create_app
from tests.support import phone_photos as pp
from tests.support.common import MODEL_NAME, SAMPLE
from tests.support.pipeline_runs import eval_examples

pytestmark = pytest.mark.slow
ORIENTATIONS = range(1, 9)
SCORE_TOLERANCE = 0.01  # per class; a turned JPEG is re-encoded (pixels differ by < 1 level on average)
MIN_SIDEWAYS_AGREEMENT = 0.98
SIDEWAYS = (6, 8, 3)  # how phones store portrait (home button up or down) and upside-down photos


@pytest.fixture(scope="module")
def local(flowers) -> LocalClient:
    return LocalClient(flowers["serving"])


@pytest.fixture(scope="module")
def photos(flowers) -> dict[int, bytes]:
    """0: an unseen eval photo, upright, no tag; 1..8: the same photo stored under each orientation."""
    _, _, image = eval_examples(flowers["data"])[2]
    upright = pp.open_photo(image)
    return {0: pp.jpeg(upright), **{o: pp.stored_with_tag(upright, o) for o in ORIENTATIONS}}


def _scores(predictions) -> np.ndarray:
    return np.array([list(p.scores.values()) for p in predictions])


def _assert_each_orientation_scores_like_upright(scores: np.ndarray) -> None:
    """scores: [9, classes] for photos 0 (upright) and 1..8 (tagged)."""
    assert len(set(np.argmax(scores, axis=1))) == 1, scores
    np.testing.assert_allclose(scores[1:], np.repeat(scores[:1], 8, axis=0), atol=SCORE_TOLERANCE)


def test_transform_graph_embeds_each_orientation_like_the_upright_photo(flowers, photos):
    transform = tft.TFTransformOutput(flowers["first"]["Transform"].output("transform_graph").uri)
    from preprocessing.embedding_cache import without_cache

    transform_layer, raw_spec = transform.transform_features_layer(), transform.raw_feature_spec()

    def layer(images: dict) -> dict:  # as the serving model calls it: no cached embeddings
        return transform_layer(without_cache(images[features.IMAGE_KEY], raw_spec))

    batch = tf.constant([photos[o] for o in range(9)])
    embeddings = layer({features.IMAGE_KEY: batch})[features.EMBEDDING_KEY].numpy()
    distance = np.linalg.norm(embeddings[1:] - embeddings[:1], axis=1) / np.linalg.norm(embeddings[0])
    assert distance.max() < 0.1, distance
    ignored = layer({features.IMAGE_KEY: tf.constant([pp.jpeg(pp.open_photo(photos[6]))])})[features.EMBEDDING_KEY]
    assert np.linalg.norm(ignored[0] - embeddings[0]) / np.linalg.norm(embeddings[0]) > 3 * distance.max()


def test_pushed_model_scores_each_orientation_like_the_upright_photo(local, photos):
    _, predictions = local.predict([photos[o] for o in range(9)], [str(o) for o in range(9)])
    _assert_each_orientation_scores_like_upright(_scores(predictions))


def test_rest_standin_scores_each_orientation_like_the_upright_photo(standin, photos):
    """Through TF Serving's REST API, in TF Serving's and Vertex's TensorFlow (the `standin` fixture)."""
    client = RestClient(f"127.0.0.1:{standin.rest_port}", MODEL_NAME, batch_size=4)
    _, predictions = client.predict([photos[o] for o in range(9)], [str(o) for o in range(9)])
    _assert_each_orientation_scores_like_upright(_scores(predictions))


def test_web_app_scores_each_orientation_like_the_upright_photo(local, photos):
    web = TestClient(create_app(local))
    response = web.post("/predict", files=[("files", (f"{o}.jpg", photos[o], "image/jpeg")) for o in range(9)])
    assert response.status_code == 200, response.text
    rows = [list(p["scores"].values()) for p in response.json()["predictions"]]
    _assert_each_orientation_scores_like_upright(np.array(rows))


def _labels(client: LocalClient, images: list[bytes]) -> list[str]:
    return [p.label for p in client.predict(images, [str(i) for i in range(len(images))])[1]]


def test_sample_stored_sideways_with_a_tag_keeps_its_labels(local):
    """Every bundled photo, stored as a phone would (turned, tagged): labels as for the original file."""
    originals = [p.read_bytes() for p in sorted(SAMPLE.glob("*/*.jpg"))]
    uprights = [pp.open_photo(data) for data in originals]
    tagged = [pp.stored_with_tag(im, SIDEWAYS[i % len(SIDEWAYS)]) for i, im in enumerate(uprights)]
    stripped = [pp.jpeg(pp.open_photo(data)) for data in tagged]  # the same pixels, tag dropped
    want = _labels(local, originals)
    agreement = np.mean([a == b for a, b in zip(_labels(local, tagged), want, strict=True)])
    without_tag = np.mean([a == b for a, b in zip(_labels(local, stripped), want, strict=True)])
    print(f"labels kept: {agreement:.3f} with the tag honoured, {without_tag:.3f} if it were ignored")
    assert len(originals) >= 50
    assert agreement >= MIN_SIDEWAYS_AGREEMENT
    assert without_tag < agreement  # the set is hard enough to tell orientation handling apart


def _full_decode_reference(big: bytes, size: int) -> bytes:
    """A big JPEG decoded at full scale, resized to the input size in float, as lossless PNG."""
    full = tf.image.resize(tf.io.decode_jpeg(big, channels=3), [size, size], antialias=True)
    buffer = io.BytesIO()
    Image.fromarray(np.uint8(np.clip(np.round(full.numpy()), 0, 255))).save(buffer, format="PNG")
    return buffer.getvalue()


def test_big_photos_decoded_at_a_ratio_get_the_labels_of_a_full_decode(local, flowers):
    """12-MP photos (decoded at 1/4 scale), landscape and portrait: labels as from a full decode."""
    sizes = [(4032, 3024), (3024, 4032), (2000, 1500)]
    bigs = [
        pp.big_jpeg(pp.open_photo(image), *sizes[i % len(sizes)])
        for i, (_, _, image) in enumerate(eval_examples(flowers["data"])[:12])
    ]
    size = get_backbone("efficientnet_lite0").input_size  # the fixture's backbone
    references = [_full_decode_reference(big, size) for big in bigs]
    assert _labels(local, bigs) == _labels(local, references)
