"""Where the result files live, one folder per kind: what the benchmarks write and the
research pages read (benchmarks/results/KIND/NAME.json and .md)."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
# One folder per kind of result; benchmarks/results/index.md lists every file (benchmarks.index)
KINDS = {"study": "the study's own questions, answered on validation",
         "design": "the project's own choices, on validation",
         "speed": "speed and memory",
         "test-era": "records of the test-split era: choices made on the test split, which "
                     "decide nothing now"}
STUDY_QUESTIONS = ("width", "heads", "classify", "cases", "cases-long", "cases-adam",
                   "regressor", "regressor-2x2", "study-spread", "answers", "conclusion", "short")
SPEED = ("levers", "step_profile", "onnx_speed", "colorize_memory", "demo_load", "scale",
         "recolorize", "gpu_check", "throughput", "minutes")
TOP = ("headline",)      # the README's results table, at the top


def kind_of(name):
    """The folder of result `name` under RESULTS ("" for the few at the top)."""
    if name in TOP:
        return ""
    if name.startswith("study_"):
        return "study" if name.removeprefix("study_") in STUDY_QUESTIONS else "design"
    if name.startswith("hints"):
        return "design"
    return "speed" if name.startswith(SPEED) else "test-era"


def result_path(name, suffix=".json"):
    """Where result `name` lives: RESULTS/KIND/NAME.json (or .md)."""
    return RESULTS / kind_of(name) / f"{name}{suffix}"
