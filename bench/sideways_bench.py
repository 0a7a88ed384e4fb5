"""Accuracy on photos stored sideways with an EXIF orientation tag, before and after the graph honoured it.

The sideways set: the bundled sample's photos stored as phones store them (pixels turned,
tag set; orientations 6, 8, 3 in turn), so that every viewer shows them upright.

"before" is the same model on the same stored pixels without the tag: with no tag the new
graph is pixel-identical to the old one (tests/unit/test_exif.py), and the old graph ignored the
tag, so this is exactly what it saw. "after" is the tagged file through today's graph.
Training data are upright, untagged photos, so the model is the same in both.

Two models:
  pushed  the pipeline's pushed model (efficientnet_lite0, trained on the sample's train
          split), on the 40 photos of the eval split;
  probe   5-fold cross-validation over all 200 photos: scikit-learn logistic regression on
          the graph's embeddings of the upright photos, tested on the held-out fold.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

SIDEWAYS = (6, 8, 3)
FOLDS = 5
PROBE_C = 1.0
VARIANTS = ("upright", "reencoded", "before", "after")


def sideways_variants(images: list[bytes]) -> dict[str, list[bytes]]:
    """upright: the files as they are; reencoded: upright, cropped to 16-px blocks and re-encoded (the
    control: what re-encoding alone changes); after: stored sideways with the tag; before: the same
    pixels as after, without the tag."""
    from bench import photos as pp

    uprights = [pp.open_photo(data) for data in images]
    after = [pp.stored_with_tag(im, SIDEWAYS[i % len(SIDEWAYS)]) for i, im in enumerate(uprights)]
    before = [pp.jpeg(pp.open_photo(data)) for data in after]
    return {"upright": list(images), "reencoded": [pp.jpeg(im) for im in uprights], "before": before, "after": after}


def scores(predicted: dict[str, list[str]], labels: list[str]) -> dict:
    """Accuracy of each variant, and how often the sideways labels equal the upright ones."""
    result = {name: float(np.mean(np.array(predicted[name]) == np.array(labels))) for name in VARIANTS}
    for name in VARIANTS[1:]:
        result[f"{name}_agrees"] = float(np.mean(np.array(predicted[name]) == np.array(predicted["upright"])))
    return result


def pushed_model(serving_dir: str, eval_rows: list[tuple[str, str, bytes]]) -> dict:
    """The pushed model on the eval split: upright, sideways before, sideways after."""
    from tastebud.clients import LocalClient

    client = LocalClient(serving_dir)
    predicted = {}
    for name, images in sideways_variants([data for _, _, data in eval_rows]).items():
        _, predictions = client.predict(images, [str(i) for i in range(len(images))])
        predicted[name] = [p.label for p in predictions]
    return {"photos": len(eval_rows), **scores(predicted, [label for _, label, _ in eval_rows])}


def embed(images: list[bytes], backbone_name: str = "efficientnet_lite0") -> np.ndarray:
    """[n, embedding] through the graph's own decode (orientation, ratio) and the backbone."""
    import tensorflow as tf

    from pipeline import configs
    from preprocessing.backbones import get_backbone
    from preprocessing.images import embed_in_chunks

    backbone = get_backbone(backbone_name)
    extractor = backbone.build_feature_extractor(None)
    run = tf.function(
        lambda b: embed_in_chunks(
            b, backbone.input_size, extractor, configs.TRANSFORM_CHUNK_SIZE, backbone.embedding_size
        )
    )
    return np.concatenate([run(tf.constant(images[i : i + 64])).numpy() for i in range(0, len(images), 64)])


def probe(rows: list[tuple[str, str, bytes]]) -> dict:
    """5-fold CV: fit on upright embeddings of 4 folds, score each variant of the 5th."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    labels = np.array([label for _, label, _ in rows])
    embeddings = {name: embed(images) for name, images in sideways_variants([d for _, _, d in rows]).items()}
    predicted = {name: np.empty(len(rows), dtype=object) for name in VARIANTS}
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(labels, labels):
        model = LogisticRegression(C=PROBE_C, max_iter=5000).fit(embeddings["upright"][train], labels[train])
        for name in VARIANTS:
            predicted[name][test] = model.predict(embeddings[name][test])
    return {"photos": len(rows), "folds": FOLDS, **scores({k: list(v) for k, v in predicted.items()}, list(labels))}
