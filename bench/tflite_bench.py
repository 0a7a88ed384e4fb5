"""(9) the phone model (issue 26): size, one-image latency in LiteRT at 1 and 2 threads against
the SavedModel in-process, and top-1 agreement with it on the eval photos.

    ./dev python -m bench.tflite_bench [--output OUT]

OUT: a `local_runner.py --tflite` run (its pushed .tflite, SavedModel and eval split);
without it, the sample runs through the pipeline first (efficientnet_lite0, --tflite,
--no-cache; about 2-3 minutes). Side by side in one process, on the same eval photo:
  * saved_model: LocalModel.predict([jpeg]) (decode, resize, backbone, head in one graph;
    TensorFlow's own threads, every core);
  * tflite_Nt: TFLiteModel.predict([jpeg]) with N interpreter threads (the host decodes with
    the serving graph's ops, LiteRT resizes and runs the rest), and tflite_model_only_Nt:
    the interpreter alone on an already decoded frame, what a phone app pays.
Writes bench/results_tflite.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from bench import pipeline_bench  # noqa: E402
from bench.common import REPO, log, machine_facts  # noqa: E402
from bench.serving_bench import _latency as latency  # noqa: E402

RESULTS = REPO / "bench" / "results_tflite.json"
THREADS = (1, 2)


def measure(output: Path) -> dict:
    from data.examples import read_examples
    from pipeline import results
    from pipeline.phone import read_check
    from tastebud.clients import LocalClient
    from tastebud.inference import LocalModel
    from tastebud.tflite_model import TFLiteModel, decode_frame

    runs = results.component_runs(results.sqlite_store(str(output / "metadata.sqlite")))
    check = read_check(runs.get("PhoneExport"))
    if check is None or not check.destination:
        raise SystemExit(f"no phone model pushed by the latest run under {output} (run local_runner.py --tflite)")
    serving = output / "serving" / "tastebud"
    uri = runs["ImportExampleGen"].output("examples").uri
    examples = read_examples(sorted(str(p) for p in Path(uri).glob("Split-eval/*")))
    images, keys = [e[2] for e in examples], [e[0] for e in examples]
    _, saved = LocalClient(serving).predict(images, keys)
    lite = TFLiteModel(check.destination).predict(images, keys)
    truth = [e[1] for e in examples]
    image = images[0]
    saved_model = LocalModel(serving)
    row = {"saved_model": latency(lambda: saved_model.predict([image]))}
    frame = decode_frame(image, TFLiteModel(check.destination).metadata.input_size)
    for threads in THREADS:
        model = TFLiteModel(check.destination, num_threads=threads)
        row[f"tflite_{threads}t"] = latency(lambda model=model: model.predict([image]))
        row[f"tflite_model_only_{threads}t"] = latency(lambda model=model: model.scores(frame))
    result = {
        "quantization": check.quantization,
        "size_mb": check.size_mb,
        "saved_model_mb": sum(f.stat().st_size for f in saved_model.path.rglob("*") if f.is_file()) / 1e6,
        "eval_photos": len(examples),
        "agreement": sum(a.label == b.label for a, b in zip(saved, lite, strict=True)) / len(examples),
        "saved_model_accuracy": sum(p.label == t for p, t in zip(saved, truth, strict=True)) / len(examples),
        "tflite_accuracy": sum(p.label == t for p, t in zip(lite, truth, strict=True)) / len(examples),
        "build_s": check.build_s,
        "convert_s": check.convert_s,
        "check_s": check.check_s,
        "latency": row,
        "image_px": list(frame.shape[:2]),
    }
    log(f"tflite: {json.dumps(result)}")
    return result


def run(work: Path) -> dict:
    """The sample through the pipeline with --tflite, then measure()."""
    serving = Path(pipeline_bench.run_pipeline(work, "efficientnet_lite0", "--tflite")["serving_dir"])
    return measure(serving.parents[1])


def lines(r: dict) -> list[str]:
    row = r["latency"]
    out = [
        "",
        f"(9) phone model (LiteRT, {r['quantization']}): {r['size_mb']:.2f} MB "
        f"(SavedModel {r['saved_model_mb']:.1f} MB); "
        f"top-1 agreement with the SavedModel {r['agreement']:.1%} of {r['eval_photos']} eval photos; accuracy "
        f"{r['tflite_accuracy']:.3f} vs {r['saved_model_accuracy']:.3f}; phone graph {r['build_s']:.1f} s, "
        f"conversion {r['convert_s']:.1f} s, "
        f"check {r['check_s']:.1f} s",
        "",
        f"| one {r['image_px'][0]}x{r['image_px'][1]} eval photo | p50 ms | p99 ms |",
        "| --- | --- | --- |",
    ]
    names = {"saved_model": "SavedModel in-process, JPEG -> label (TF threads: every core)"}
    for threads in THREADS:
        names[f"tflite_{threads}t"] = f"LiteRT {threads} thread{'s' if threads > 1 else ''}, JPEG -> label"
        names[f"tflite_model_only_{threads}t"] = (
            f"LiteRT {threads} thread{'s' if threads > 1 else ''}, decoded frame in"
        )
    for key, name in names.items():
        out.append(f"| {name} | {row[key]['p50_ms']:.1f} | {row[key]['p99_ms']:.1f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", help="the OUT folder of a local_runner.py --tflite run (skips the pipeline run)")
    args = parser.parse_args(argv)
    result = {"machine": machine_facts()}
    if args.output:
        result["tflite"] = measure(Path(args.output))
    else:
        with tempfile.TemporaryDirectory(prefix="tastebud-tflite-") as tmp:
            result["tflite"] = run(Path(tmp))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(lines(result["tflite"])))
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
