"""`tastebud review`: what the latest (or a given) run's Evaluator found, for people.

Everything comes from the run's own records: ML Metadata says which artifacts the run
used and produced; TFMA's loaders read the Evaluator's metrics, plots and verdict; the
candidate model the Evaluator judged is run over the same eval split to list the
photos it got wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from data.counts import class_counts, imbalance_warning
from pipeline import results
from pipeline.baseline import BaselinePlan
from pipeline.blessing import BlessingBar, HoldoutCheck, Record
from pipeline.evaluation import EvaluationSummary, summarize
from pipeline.verdict import explain
from preprocessing.contract import BEST_HYPERPARAMETERS_FILE, SERVING_MODEL_DIR, TUNER_RESULTS_FILE
from tastebud.review_health import DataHealth, find_health


class ReviewError(RuntimeError):
    """No run to review (or it has no evaluation); the message says what to do."""


@dataclass
class Mistake:
    key: str
    true_label: str
    predicted: str
    score: float
    image: bytes


@dataclass
class Review:
    run_id: str
    blessed: bool
    evaluation: EvaluationSummary
    mistakes: list[Mistake]
    settings: dict[str, str]
    pushed_to: str | None
    evaluation_uri: str
    model_uri: str
    extra: dict = field(default_factory=dict)
    bar: BlessingBar | None = None  # the out-of-fold bar; None for runs not made by local_runner.py
    plan: BaselinePlan | None = None
    warnings: list[str] = field(default_factory=list)
    holdout: HoldoutCheck | None = None  # the eval split's floor
    cv_correct: int | None = None  # right out-of-fold answers
    health: DataHealth | None = None  # the DataHealth component's report; None for runs without it

    @property
    def verdict(self) -> str:
        """The decision in words (pipeline/verdict.py), or the thresholds TFMA applied."""
        if self.bar is None or self.plan is None or self.holdout is None:
            return self.evaluation.text()
        return explain(Record(self.bar, self.holdout, self.plan), self.evaluation, self.blessed, self.cv_correct)


def _json_property(run: results.ComponentRun | None, name: str):
    raw = run.properties.get(name) if run else None
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return raw


def find_runs(output: str, run_id: str | None) -> tuple[str, dict[str, results.ComponentRun]]:
    metadata = Path(output) / "metadata.sqlite"
    if not metadata.exists():
        raise ReviewError(
            f"no pipeline run found under {output} (no metadata.sqlite). "
            "Run `make demo` or `./dev python local_runner.py ...` first, or pass --output."
        )
    store = results.sqlite_store(str(metadata))
    ids = results.run_ids(store)
    candidates = [run_id] if run_id else list(reversed(ids))
    for rid in candidates:
        if rid not in ids:
            raise ReviewError(f"no run {rid!r} in {metadata}; runs: {', '.join(ids[-5:]) or 'none'}")
        runs = results.component_runs(store, rid)
        if runs.get("Evaluator") and runs["Evaluator"].output("evaluation"):
            return rid, runs
    raise ReviewError(f"no run under {output} got as far as the Evaluator; see local_runner.py's output")


def _eval_split_examples(examples_uri: str) -> list[tuple[str, str, bytes]]:
    import tensorflow as tf

    from data.examples import read_examples

    return read_examples(tf.io.gfile.glob(f"{examples_uri}/Split-eval/*"))


def find_mistakes(model_dir: str, examples: list[tuple[str, str, bytes]], batch: int = 32) -> list[Mistake]:
    """Runs the evaluated model's serving signature over the eval split."""
    from tastebud.inference import LocalModel

    model = LocalModel(model_dir)
    mistakes = []
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        for (key, label, image), p in zip(
            chunk, model.predict([r[2] for r in chunk], [r[0] for r in chunk]), strict=True
        ):
            if p.label != label:
                mistakes.append(Mistake(key, label, p.label, p.score, image))
    return mistakes


def _settings(runs: dict[str, results.ComponentRun]) -> dict[str, str]:
    """What made the model, as the run recorded it; a setting the run did not record is left out."""
    transform = _json_property(runs.get("Transform"), "custom_config") or {}
    trainer = _json_property(runs.get("Trainer"), "custom_config") or {}
    train_args = _json_property(runs.get("Trainer"), "train_args") or {}
    tuner = runs.get("Tuner")
    best = tuner.output("best_hyperparameters") if tuner else None
    settings = {}
    if "ImportExampleGen" in runs and runs["ImportExampleGen"].properties.get("input_base"):
        settings["dataset"] = str(runs["ImportExampleGen"].properties["input_base"])
    if transform.get("backbone"):
        settings["backbone"] = str(transform["backbone"])
        settings["backbone weights"] = str(transform.get("backbone_weights") or "the backbone's default (ImageNet)")
    if trainer.get("labels"):
        settings["labels"] = ", ".join(trainer["labels"])
    if train_args.get("num_steps"):  # --train-steps: a step count instead of the (tuned) epochs
        settings["train steps"] = f"{train_args['num_steps']} (instead of the epochs)"
    hyperparameters = dict(trainer.get("hyperparameters") or {})
    if best is not None:
        hyperparameters.update(_best_hyperparameters(best.uri))
        settings["tuner trials"] = f"{tuner.output('tuner_results').uri}/{TUNER_RESULTS_FILE}"
    for name, value in hyperparameters.items():
        settings[name.replace("_", " ")] = str(value)
    return settings


def _best_hyperparameters(uri: str) -> dict:
    """The Tuner's best values (KerasTuner's HyperParameters config, as TFX writes it)."""
    with open(f"{uri}/{BEST_HYPERPARAMETERS_FILE}") as f:
        return json.load(f).get("values", {})


def _warnings(runs: dict[str, results.ComponentRun], evaluation: EvaluationSummary) -> list[str]:
    """Class-size warnings: train + eval counts from summary.json, else the eval split's."""
    data_dir = runs["ImportExampleGen"].properties.get("input_base")
    counts = class_counts(data_dir) if data_dir else None
    counts = counts or {c.label: c.support for c in evaluation.classes}
    return [w for w in [imbalance_warning(counts)] if w]


def build_review(output: str, run_id: str | None = None) -> Review:
    rid, runs = find_runs(output, run_id)
    evaluator, trainer = runs["Evaluator"], runs["Trainer"]
    labels = list((_json_property(trainer, "custom_config") or {}).get("labels", []))
    evaluation_uri = evaluator.output("evaluation").uri
    model_uri = trainer.output("model").uri
    examples = _eval_split_examples(runs["ImportExampleGen"].output("examples").uri)
    pushed = runs.get("Pusher").output("pushed_model") if runs.get("Pusher") else None
    evaluation = summarize(evaluation_uri, labels)
    record = results.record(runs)
    return Review(
        run_id=rid,
        blessed=results.is_blessed(runs),
        evaluation=evaluation,
        mistakes=find_mistakes(f"{model_uri}/{SERVING_MODEL_DIR}", examples),
        settings=_settings(runs),
        pushed_to=pushed.properties.get("pushed_destination") if pushed and pushed.properties.get("pushed") else None,
        evaluation_uri=evaluation_uri,
        model_uri=model_uri,
        bar=record.bar if record else None,
        plan=record.plan if record else None,
        warnings=_warnings(runs, evaluation),
        extra=_phone(runs),
        holdout=record.holdout if record else None,
        cv_correct=results.cv_correct(runs),
        health=find_health(runs),
    )


def _phone(runs: dict[str, results.ComponentRun]) -> dict:
    """The phone model's check (local_runner.py --tflite runs), as {"phone": PhoneCheck}."""
    from pipeline.phone import read_check

    check = read_check(runs.get("PhoneExport"))
    return {"phone": check} if check else {}


def text_summary(review: Review) -> str:
    verdict = "BLESSED" if review.blessed else "NOT blessed"
    lines = [f"run {review.run_id}: {verdict}", review.evaluation.text()]
    if review.bar is not None:
        lines.append(review.verdict)
    lines += [f"warning: {w}" for w in review.warnings]
    lines.append(f"  mistakes: {len(review.mistakes)} of {review.evaluation.example_count} eval photos")
    for m in review.mistakes[:5]:
        lines.append(f"    {m.key}: {m.true_label} taken for {m.predicted} ({m.score:.2f})")
    lines.append(f"  pushed to: {review.pushed_to or 'nothing pushed by this run'}")
    if review.extra.get("phone"):
        lines += review.extra["phone"].lines()
    if review.health:
        lines.append(review.health.line())
    return "\n".join(lines)
