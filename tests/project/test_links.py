"""Every relative link in the repository's Markdown (README, docs, generated reports) points at a
file that is tracked, and every ``#anchor`` into a Markdown file at one of its headings."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


@cache
def tracked(pattern: str) -> tuple[str, ...]:
    out = subprocess.run(["git", "ls-files", "-z", pattern], cwd=ROOT, capture_output=True, text=True, check=True)
    return tuple(sorted(filter(None, out.stdout.split("\0"))))


def anchors(markdown: str) -> set[str]:
    """GitHub's heading ids (lower case, punctuation dropped except '-' and '_', spaces to '-') and
    the ``<a id="...">`` tags the report writer puts before each section."""
    text = FENCE.sub("", markdown)
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, re.M)
    return ({re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
            | set(re.findall(r'<a id="([^"]+)"></a>', text)))


def links(path: str) -> list[str]:
    return [m.group(1) for m in LINK.finditer(FENCE.sub("", (ROOT / path).read_text(encoding="utf-8")))
            if not re.match(r"[a-z][a-z0-9+.-]*:", m.group(1))]


def test_anchors_follow_github_s_rule():
    assert anchors("# The sparsity frontier: L0 against FVU\n```\n# not a heading\n```\n## 2. Step\n"
                   '<a id="study_pca"></a>') == {"the-sparsity-frontier-l0-against-fvu", "2-step", "study_pca"}


@pytest.mark.parametrize("path", tracked("*.md"))
def test_relative_links_resolve(path):
    files = set(tracked("*"))
    broken = []
    for link in links(path):
        target, _, anchor = link.partition("#")
        resolved = (ROOT / path).parent / target if target else ROOT / path
        rel = resolved.resolve().relative_to(ROOT).as_posix() if resolved.resolve().is_relative_to(ROOT) else None
        if rel is None or (rel not in files and not any(f.startswith(rel + "/") for f in files)):
            broken.append(f"{link}: no tracked file")
        elif anchor and rel.endswith(".md") and anchor not in anchors((ROOT / rel).read_text(encoding="utf-8")):
            broken.append(f"{link}: no heading #{anchor} in {rel}")
    assert not broken, f"{path}: " + "; ".join(broken)
