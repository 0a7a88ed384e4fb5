"""`make demo` prints tastebud's own lines: no TensorFlow / absl / Beam noise, live component lines."""

from __future__ import annotations

import re

import pytest

NOISE = re.compile(
    r"cuInit|oneDNN|ZetaSQL|deprecated|absl::InitializeLog|cudart_stub"
    r"|Search space summary|Trial \d+ Complete|Epoch \d+/",  # library noise; KerasTuner's tables, Keras' epochs
    re.IGNORECASE,
)


@pytest.mark.slow
def test_demo_output_is_quiet_and_keeps_the_results(flowers, artifacts_dir):
    """The command `make demo` runs, as a user sees it (stdout and stderr together): the `flowers` fixture runs it."""
    output = flowers["demo_output"]
    (artifacts_dir / "demo_output.txt").write_text(output)
    noisy = [line for line in output.splitlines() if NOISE.search(line)]
    assert not noisy, noisy
    assert re.search(r"eval accuracy \d\.\d{3} on 20 examples", output)  # the results table
    assert re.search(r"pushed model: .*/serving/tastebud/\d+", output)
    for component in ("Transform", "Trainer", "Evaluator"):  # live lines as each component ends
        assert re.search(rf"\[pipeline\] {component} done in \d+\.\d s", output), component
