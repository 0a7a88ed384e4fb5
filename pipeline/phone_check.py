"""The phone model's check: its eval accuracy next to the SavedModel's, and the rule that pushes it.

The .tflite is pushed only when its accuracy on the eval split is at most
max(PHONE_MAX_DROP, one eval photo) below the SavedModel's, both measured in the same run
on the same photos (pipeline/phone.py). The result is kept as check.json in the
PhoneExport artifact; local_runner's summary and `tastebud review` print `lines()`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

from preprocessing.contract import PHONE_LABELS_FILE

PHONE_MAX_DROP = 0.01  # pushed only when its eval accuracy is at most this (or one photo) below the SavedModel's
CHECK_FILE = "check.json"
PUSHED, NOT_PUSHED, SKIPPED = "pushed", "not pushed", "skipped"


@dataclass
class PhoneCheck:
    status: str  # PUSHED, NOT_PUSHED or SKIPPED
    reason: str  # why (for SKIPPED and NOT_PUSHED)
    quantization: str = ""
    eval_count: int = 0
    saved_model_correct: int = 0
    tflite_correct: int = 0
    agreement: int = 0  # eval photos where both give the same top-1 label
    size_bytes: int = 0
    build_s: float = 0.0  # building and saving the phone SavedModel
    convert_s: float = 0.0  # TFLiteRewriter (copy, load, convert, quantise) and the metadata
    check_s: float = 0.0  # both models over the eval split
    destination: str = ""  # the pushed model.tflite

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6

    def accuracy(self, correct: int) -> float:
        return correct / self.eval_count if self.eval_count else 0.0

    def lines(self) -> list[str]:
        """The check in words: the first line says what happened."""
        if self.status == SKIPPED:
            return [f"phone model (TFLite): not converted: {self.reason}"]
        n, saved, lite = self.eval_count, self.saved_model_correct, self.tflite_correct
        head = "pushed" if self.status == PUSHED else "NOT pushed"
        lines = [
            f"phone model (TFLite, {self.quantization}) {head}: accuracy {self.accuracy(lite):.3f} ({lite} of {n} "
            f"eval photos) vs the SavedModel's {self.accuracy(saved):.3f} ({saved} of {n})",
            f"  top-1 agreement with the SavedModel {self.agreement} of {n} ({self.agreement / n:.1%}); "
            f"{self.size_mb:.2f} MB; phone graph built in {self.build_s:.1f} s, converted in {self.convert_s:.1f} s, "
            f"checked in {self.check_s:.1f} s",
        ]
        if self.status == PUSHED:
            lines.append(f"  phone model: {self.destination} (labels inside, and {PHONE_LABELS_FILE} beside it)")
        else:
            lines.append(f"  not pushed: {self.reason}")
        return lines

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> PhoneCheck:
        return cls(**json.loads(text))


def allowed_drop(eval_count: int, max_drop: float = PHONE_MAX_DROP) -> int:
    """Eval photos the .tflite may get wrong beyond the SavedModel's: max_drop of them, at least one."""
    return max(1, math.floor(max_drop * eval_count + 1e-9))


def verdict(saved_correct: int, tflite_correct: int, eval_count: int) -> tuple[bool, str]:
    """(push?, the reason in words)."""
    allowed, drop = allowed_drop(eval_count), saved_correct - tflite_correct
    rule = (
        f"at most {allowed} eval photo{'s' if allowed > 1 else ''} ({allowed / eval_count:.3f}) below the "
        f"SavedModel is allowed (the larger of {PHONE_MAX_DROP:.0%} and one photo)"
    )
    if drop > allowed:
        return False, (
            f"its accuracy is {drop / eval_count:.3f} ({drop} eval photos) below the SavedModel's; {rule}. "
            "Try --tflite-quantization float16, or dynamic"
        )
    return True, f"{max(drop, 0)} eval photos below the SavedModel; {rule}"
