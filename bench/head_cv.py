"""The head against a logistic-regression probe: 5-fold CV on the sample's Transform embeddings.

    make demo && ./dev python -m bench.head_cv --output out     # or: make bench-head

Reads the embeddings of every photo (train and eval splits) of the latest Transform
run under OUT, and on the same 5 stratified folds compares
  head (default)  the pipeline's procedure: the Tuner's search (k-fold CV inside the
                  fold's training part, default budget) then the Trainer's fit;
  head (seed)     the old fixed head: configs.HYPERPARAMETERS, no tuning;
  early stopping  the default search space's first point, epochs picked on a 20% slice of
                  the training part (the simpler alternative);
  probe           scikit-learn LogisticRegression, C chosen by inner 5-fold CV.
Writes bench/results_head_cv.json and prints a table of means and spreads.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bench.common import REPO, machine_facts

RESULTS = REPO / "bench" / "results_head_cv.json"
PROBE_C = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
FOLDS = 5
SEED = 0


def load_sample_embeddings(output: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(embeddings [n, d], label indices [n], labels) of both splits of the latest Transform under OUT."""
    import tensorflow_transform as tft

    from models.head import load_embeddings
    from pipeline import results

    store = results.sqlite_store(str(Path(output) / "metadata.sqlite"))
    runs = results.component_runs(store)
    if "Transform" not in runs:
        raise SystemExit(f"no pipeline run with a Transform under {output}; run `make demo OUT={output}` first")
    examples = runs["Transform"].output("transformed_examples").uri
    spec = tft.TFTransformOutput(runs["Transform"].output("transform_graph").uri).transformed_feature_spec()
    x, y = load_embeddings([f"{examples}/Split-train/*", f"{examples}/Split-eval/*"], spec)
    labels = json.loads(runs["Transform"].properties["custom_config"])["labels"]
    return x, y, labels


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def head_default(x, y, x_test, y_test, num_classes) -> float:
    from models.head import fit_head
    from models.tuning import make_tuner
    from pipeline import configs

    with tempfile.TemporaryDirectory() as directory:
        tuner = make_tuner(num_classes, directory)
        tuner.search(x=x, y=y)
        hp = {**configs.HYPERPARAMETERS, **tuner.get_best_hyperparameters()[0].values}
    return _accuracy(fit_head(x, y, num_classes, hp), x_test, y_test)


def head_seed(x, y, x_test, y_test, num_classes) -> float:
    from models.head import fit_head
    from pipeline import configs

    return _accuracy(fit_head(x, y, num_classes, configs.HYPERPARAMETERS), x_test, y_test)


def early_stopping(x, y, x_test, y_test, num_classes) -> float:
    """The search space's defaults; epochs = the peak of held-out accuracy on a 20% slice of train."""
    from models.fold_trainer import cross_validate_head
    from models.head import fit_head
    from models.tuning import best_epoch, stratified_folds
    from pipeline import configs

    hp = {**configs.HYPERPARAMETERS, **{k: d for k, (_, d) in configs.SEARCH_SPACE.items()}}
    hp["epochs"] = configs.TUNER_MAX_EPOCHS
    held_out = stratified_folds(y, 5, SEED) == 0
    curve = cross_validate_head(x, y, num_classes, hp, np.where(held_out, 0, 1))[0][0]  # the model without fold 0
    hp["epochs"] = best_epoch(curve, configs.TUNER_SELECT_BY) + 1
    return _accuracy(fit_head(x, y, num_classes, hp), x_test, y_test)


def probe(x, y, x_test, y_test, num_classes) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    warnings.filterwarnings("ignore", message="Unknown solver options")  # SciPy vs scikit-learn's lbfgs call
    search = GridSearchCV(
        LogisticRegression(max_iter=3000),
        {"C": PROBE_C},
        cv=StratifiedKFold(FOLDS, shuffle=True, random_state=SEED),
    )
    search.fit(x, y)
    return float(np.mean(search.predict(x_test) == y_test))


METHODS = {"head (default)": head_default, "head (seed)": head_seed, "early stopping": early_stopping, "probe": probe}


def cross_validate(x: np.ndarray, y: np.ndarray, num_classes: int) -> dict:
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y))
    table = {}
    for name, method in METHODS.items():
        started, scores = time.monotonic(), []
        for train, test in folds:
            scores.append(method(x[train], y[train], x[test], y[test], num_classes))
            print(f"  {name}: fold {len(scores)} accuracy {scores[-1]:.3f}", flush=True)
        table[name] = {
            "folds": scores,
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores)),
            "seconds_per_fold": (time.monotonic() - started) / FOLDS,
        }
    return table


def format_table(results: dict) -> str:
    lines = [
        f"{results['examples']} photos, {results['classes']} classes, {FOLDS}-fold CV (same folds for every row)",
        "| method | mean | std | min | max | s / fold |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["methods"].items():
        lines.append(
            f"| {name} | {r['mean']:.3f} | {r['std']:.3f} | {min(r['folds']):.3f} | {max(r['folds']):.3f} "
            f"| {r['seconds_per_fold']:.1f} |"
        )
    head, probe_mean = results["methods"]["head (default)"]["mean"], results["methods"]["probe"]["mean"]
    lines.append(f"head (default) mean >= probe mean: {'yes' if head >= probe_mean else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=str(REPO / "out"), help="a pipeline OUT on the bundled sample")
    args = parser.parse_args(argv)
    x, y, labels = load_sample_embeddings(args.output)
    results = {
        "machine": machine_facts(),
        "examples": len(y),
        "classes": len(labels),
        "methods": cross_validate(x, y, len(labels)),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table(results))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
