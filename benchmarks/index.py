"""benchmarks/results/index.md: every result file by folder, with its question, the command that
wrote it, the split its figures are on, and whether it is current, generated from the files.

    python -m benchmarks.index            # write the index
    python -m benchmarks.index --check    # exit 1 if the committed index differs
"""

import argparse
import re
import sys

from research.results import KINDS, RESULTS, TOP

INDEX = RESULTS / "index.md"
# Pages whose experiment lost: (the options that left the code in 0.7.0, the commit that wrote the
# page: `git checkout` it to run the page's command again)
LOST = {"study_design": ("the screens' --schedule onecycle and --no-fused removed in 0.7.0",
                         "bb12ea1"),
        "study_average-10min": ("--ema removed in 0.7.0", "80484f2"),
        "study_distill-41": ("--teachers, --distill removed in 0.7.0", "80484f2"),
        "study_decoder-10min": ("--fusion, --skips add removed in 0.7.0", "34ec71a"),
        "levers_avx512": ("the fusion_8 lever (--fusion) removed in 0.7.0", "45a2241"),
        "hints_input-only": ("hints at the encoder's input only: the decoder takes them too "
                             "since 0.8.0; its command names the page it was first written as",
                             "a2455f3"),
        "step_profile": ("two of its configurations' --fused and --skips add removed in 0.7.0",
                         "c1da208"),
        "hints_choice": ("--hints random / corrective, a network trained with hints, removed in "
                         "0.9.0 for the hint part (hints_spread)", "a863859"),
        "hints_sweep": ("--hints corrective, a network trained with hints, removed in 0.9.0 for "
                        "the hint part (hints_spread)", "c79b36d"),
        "study_recipe-5min": ("its lever --stem-init whiten (the stem's patch whitening) removed "
                              "in 0.11.0", "e424dc3")}
# Options a current page names that `train` no longer takes, with what runs in their place
# (tests/test_pages.py: any other option a current page names is one train takes today)
RETIRED = {"--fused": "--fused: removed in 0.7.0, the update is always fused",
           "--no-fused": "--no-fused: ran the unfused update, removed in 0.7.0; the fused one "
                         "is the same up to rounding"}
# The records of the test-split era, each with the commit that wrote it
TEST_ERA = {"best": "838050e", "classify_wsd": "0e8b228", "design_10min": "044d474",
            "design_5min": "044d474", "design_long": "72c802a", "ensemble": "c1da208",
            "five_minutes": "b3cecd6", "quality": "c033e75", "regressor": "0b15824",
            "regressor_wsd": "391550f", "screen_ab_stride": "c1da208", "screen_cooldown": "ac9e187",
            "screen_lr": "b3cecd6", "screen_round2": "c1da208", "screen_skips": "b3cecd6",
            "screen_wsd": "bb7d39f", "time_to_quality": "f2b75cb", "tta_flip": "b387473",
            "wsd": "6a1ecac"}
SPLIT = {"study": "validation (test beside)", "design": "validation (test beside)",
         "speed": "-", "test-era": "test", "": "test"}
# A page's command: the benchmark that wrote it, else the first command it shows
WRITER = re.compile(r"`(python -m benchmarks\.[^`]+)`")
COMMAND = re.compile(r"`(python -m [^`]+)`")
TITLE = re.compile(r"^(?:# (.+)|\*\*(.+?)\*\*)", re.M)


def rows():
    """One row per result page: (folder, name, title, command, split, status)."""
    out = []
    for folder in ["", *KINDS]:
        for page in sorted((RESULTS / folder).glob("*.md")):
            if page == INDEX:
                continue
            text = page.read_text()
            title = TITLE.search(text)
            command = WRITER.search(text) or COMMAND.search(text)
            if text.startswith("|"):
                title = "the study's claims, each beside its measured answer (a table)"
            elif title:
                title = next(filter(None, title.groups()))
            else:
                title = text.split(";")[0]
            out.append((folder, page.stem, _short(title),
                        command.group(1) if command else "-", SPLIT[folder],
                        status(folder, page)))
    return out


def status(folder, page):
    """current (its command runs at HEAD as written: tests/test_pages.py); superseded (a record
    of the test-split era) or lost, with the commit that wrote it (`git checkout` it to run the
    page's command again)."""
    if page.stem in LOST:
        options, commit = LOST[page.stem]
        return f"lost ({options}); written at {commit}"
    if folder == "test-era":
        return f"superseded: chosen on test; written at {TEST_ERA[page.stem]}"
    retired = [RETIRED[o] for o in sorted(set(train_options(page.read_text())) & set(RETIRED))]
    return "current" + "".join(f" ({note})" for note in retired)


def train_options(text):
    """The `train` options a page names, in its `train ...` commands and `--option` spans."""
    spans = re.finditer(r"`train ([^`]*)`|`(--[a-z][^`]*)`", text)
    return re.findall(r"--[a-z][a-z0-9-]*", " ".join(m.group(0) for m in spans))


def _short(text, n=90):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def markdown():
    lines = ["# Results", "",
             "Every result file, generated from the files by `python -m benchmarks.index`. ab MSE "
             "in raw CIELAB units², PSNR in dB on 8-bit sRGB. Folders:", ""]
    lines += [f"- `{k}/`: {v}" for k, v in KINDS.items()]
    lines += [f"- at the top: {', '.join(f'`{t}`' for t in TOP)}, the README's results table",
              "", "| folder | file | question | command | split | status |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {folder or '.'} | [{name}]({folder + '/' if folder else ''}{name}.md) | "
              f"{title} | `{command}` | {split} | {state} |"
              for folder, name, title, command, split, state in rows()]
    return "\n".join(lines).replace("|`-`|", "| - |") + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    text = markdown()
    if args.check:
        same = INDEX.is_file() and INDEX.read_text() == text
        print("the index is current" if same else f"{INDEX} differs: python -m benchmarks.index")
        return 0 if same else 1
    INDEX.write_text(text)
    print(f"wrote {INDEX} ({len(rows())} result pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
