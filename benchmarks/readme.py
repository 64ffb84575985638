"""The result blocks of README.md, docs/*.md and the model card, each a copy of a committed
result file (benchmarks/results/*.md).

A block is written `<!-- results: PATH -->`, the file's text, `<!-- end results -->`; the tests
fail when a block differs from its file, so no figure in the documentation is typed by hand.

    python -m benchmarks.readme            # rewrite every block of every page from its file
    python -m benchmarks.readme --check    # list the blocks that differ; exit 1 if any
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- results: (\S+) -->\n)(.*?)(<!-- end results -->)", re.S)


def blocks(text):
    """[(path, content)] of the README's result blocks, in order."""
    return [(m.group(2), m.group(3)) for m in BLOCK.finditer(text)]


def stale(text, root=ROOT):
    """The paths whose block differs from the file (or whose file is missing)."""
    return [path for path, content in blocks(text)
            if not (root / path).is_file() or (root / path).read_text() != content]


def refresh(text, root=ROOT):
    """The README with every block replaced by its file's current text."""
    return BLOCK.sub(lambda m: m.group(1) + (root / m.group(2)).read_text() + m.group(4), text)


def pages(root=ROOT):
    """The pages whose blocks are kept: the README, every page under docs/, the model card."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md")),
            root / "colorizer" / "weights" / "README.md"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    bad = []
    for page in pages():
        text = page.read_text()
        if args.check:
            bad += [f"{page.relative_to(ROOT)}: {b}" for b in stale(text)]
            continue
        page.write_text(refresh(text))
        print(f"rewrote {len(blocks(text))} result blocks in {page.relative_to(ROOT)}")
    if args.check:
        print("\n".join(f"differs from its file: {b}" for b in bad) or "every block is current")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
