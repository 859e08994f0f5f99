#!/usr/bin/env python3
"""Link check for the repository's documentation (run by `make lint` and .ci/run).

* every relative link and image in README.md, docs/**/*.md and any other tracked *.md resolves to a file or
  directory in the repository (anchors are ignored; http(s) links are not fetched: CI is offline);
* no tracked file points outside the repository at a sibling checkout (``../shared``): a user's clone has none.

Exit 0 when clean, 1 with one ``file:line: message`` per problem otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
OUTSIDE = re.compile(r"\.\./shared\b")


def tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).is_file()]


def main() -> int:
    problems: list[str] = []
    for path in tracked():
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", ".git") or path.suffix in (".png", ".jpg", ".gguf", ".whl", ".db"):
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) and rel.as_posix() != ".ci/check_links.py":
                problems.append(f"{rel}:{i}: points outside the repository (../shared): {line.strip()[:100]}")
            if path.suffix != ".md":
                continue
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue
                dest = (path.parent / target.split("#", 1)[0]).resolve()
                if not dest.exists():
                    problems.append(f"{rel}:{i}: broken link {target!r}")
                elif ROOT not in dest.parents and dest != ROOT:
                    problems.append(f"{rel}:{i}: link leaves the repository: {target!r}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
