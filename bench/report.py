"""Assembles docs/PERFORMANCE.md from the machine it runs on and every bench/results/*.md.

    .venv/bin/python -m bench.report            (the last step of make bench)

Each benchmark writes its own section (bench/results/<name>.md, whose first heading is `# …`); this
puts them in a reading order (what an operation costs first, then speed, then each pillar, then
scale, load and cost when their results exist), demotes their headings one level under the page's
title, and rewrites their image links (`performance/…` or `docs/performance/…`) to work from docs/.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OUTPUT = ROOT / "docs" / "PERFORMANCE.md"
ORDER = (
    "routes",
    "coldstart",
    "loopback",
    "processes",
    "bus",
    "tracking",
    "site",
    "scale",
    "load",
    "faults",
    "security",
    "cost",
)


def sections(results: Path = RESULTS) -> list[Path]:
    """Every results section, known ones in ORDER, any other after them by name."""
    found = {path.stem: path for path in results.glob("*.md")}
    known = [found[name] for name in ORDER if name in found]
    return known + sorted(path for name, path in found.items() if name not in ORDER)


def headings(text: str) -> list[tuple[int, str]]:
    """(index, line) of every markdown heading outside fenced code."""
    found, fenced = [], False
    for index, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            found.append((index, line))
    return found


def demote(text: str) -> str:
    """The section's headings shifted so its top one is `## ` (the page's title is the only `# `)."""
    found = headings(text)
    if not found:
        return text
    shift = 2 - min(len(line) - len(line.lstrip("#")) for _, line in found)
    lines = text.splitlines()
    for index, line in found:
        level = max(1, min(6, len(line) - len(line.lstrip("#")) + shift))
        lines[index] = "#" * level + " " + line.lstrip("#").lstrip()
    return "\n".join(lines)


def relink(text: str) -> str:
    """Image and file links as seen from docs/: `docs/performance/x.png` → `performance/x.png`."""
    return re.sub(r"\]\((?:\.\./)?docs/", "](", text)


def render(results: Path = RESULTS) -> str:
    here = machine.info(runs=0)
    parts = sections(results)
    lines = [
        "# Performance",
        "",
        "What the platform costs per operation, how fast it starts and answers, and how it behaves as its",
        "data grows, measured by `make bench` and assembled here by `bench/report.py` from",
        "`bench/results/*.md` (the raw numbers are in the `.json` next to each). Every section names the",
        "machine it ran on and how many runs it took; medians are quoted, never single runs. The local",
        "figures come from emulators (moto, DynamoDB Local) and a development server on one machine:",
        "compare them between routes, runs and versions, never with AWS.",
        "",
        f"Page assembled {here['recorded_at']} on {here['cores']} cores ({here['cpu']}), "
        f"{here['memory_gib']} GiB, {here['python']}, {here['platform']}.",
        "",
        "Sections:",
        "",
    ]
    titled = []
    for path in parts:
        text = path.read_text(encoding="utf-8").strip()
        found = headings(text)
        if not found:  # a section without a title gets its file's name
            text = f"# {path.stem}\n\n{text}"
            found = headings(text)
        title = found[0][1].lstrip("#").strip()
        titled.append((path, title, text))
        anchor = re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")
        source = ROOT / "bench" / f"{path.stem}.py"
        made_by = f" (`{source.relative_to(ROOT)}`)" if source.exists() else ""
        lines.append(f"- [{title}](#{anchor}){made_by}")
    lines.append("")
    for _path, _title, text in titled:
        lines += [relink(demote(text)), ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} from {len(sections())} sections")


if __name__ == "__main__":
    main()
