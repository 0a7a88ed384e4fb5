"""What local_runner.py (and `make demo`) prints after a run, from the run's ML Metadata records."""

from __future__ import annotations

from pipeline import results
from pipeline.data_health import summary_line
from pipeline.evaluation import summarize
from pipeline.phone import read_check
from pipeline.verdict import explain
from preprocessing.contract import TUNER_RESULTS_FILE


def report(runs: dict, serving_dir: str, labels: list[str] | None = None, store=None) -> str:
    """The run in words: components and times, how many photos were embedded, where the logs and
    artefacts are, the verdict, what was pushed, and the data-health and phone-model lines.
    store: the run's ML Metadata, for the time the reused embeddings saved (optional)."""
    lines = ["component                         state      seconds"]
    for node_id, r in runs.items():
        lines.append(f"{node_id:<33} {r.state:<10} {r.seconds:7.1f}")
    lines += embedding_lines(runs, store)
    trainer, evaluator, pusher = runs.get("Trainer"), runs.get("Evaluator"), runs.get("Pusher")
    if trainer and trainer.output("model_run"):
        lines.append(f"TensorBoard logs: {trainer.output('model_run').uri}")
    if runs.get("Tuner") and runs["Tuner"].output("tuner_results"):
        lines.append(f"tuner trials: {runs['Tuner'].output('tuner_results').uri}/{TUNER_RESULTS_FILE}")
    if evaluator and evaluator.output("evaluation"):
        verdict = "BLESSED" if results.is_blessed(runs) else "NOT blessed"
        lines.append(f"evaluation: {evaluator.output('evaluation').uri} ({verdict})")
        if labels is not None:
            lines.append(explain_verdict(runs, labels))
    pushed = pusher.output("pushed_model") if pusher else None
    if pushed and pushed.properties.get("pushed"):
        lines.append(f"pushed model: {pushed.properties.get('pushed_destination')}")
    else:
        lines.append(f"no model pushed by this run; serving dir unchanged: {serving_dir}")
    lines += data_health_lines(runs)
    lines += phone_lines(runs)
    return "\n".join(lines)


def embedding_lines(runs: dict, store=None) -> list[str]:
    """'Transform: 55 of 605 photos embedded, 550 reused (saved ~16 s)', when EmbeddingCache ran."""
    from pipeline.embedding_cache import OUTPUT_KEY, report_line

    run = runs.get("EmbeddingCache")
    joined = run.output(OUTPUT_KEY) if run and run.state == "COMPLETE" else None
    cache_uri = joined.properties.get("cache_uri") if joined else None
    earlier = None
    if store is not None and cache_uri:
        earlier = results.producing_run(store, "Transform", "transformed_examples", cache_uri)
    line = report_line(runs, earlier)
    return [line] if line else []


def data_health_lines(runs: dict) -> list[str]:
    """DataHealth's counts in one line (runs without --no-data-health)."""
    line = summary_line(runs.get("DataHealth"))
    return [line] if line else []


def phone_lines(runs: dict) -> list[str]:
    """PhoneExport's check in words (--tflite runs only)."""
    check = read_check(runs.get("PhoneExport"))
    return check.lines() if check else []


def explain_verdict(runs: dict, labels: list[str]) -> str:
    """The blessing decision in words, from the run's evaluation, its evidence and the gate's record."""
    evaluation = runs["Evaluator"].output("evaluation")
    summary = summarize(evaluation.uri, labels)
    record = results.record(runs)
    if record is None:
        return summary.text()
    return explain(record, summary, results.is_blessed(runs), results.cv_correct(runs))
