"""The product (bench/, methods/, tasks/) never reads or names the development data beside the
checkout (../shared): users have no such folder, so data come from options, environment
variables or the package itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bench", "methods", "tasks")
# "../shared", "shared/data" and the same joined by pathlib: "shared" / "data"
SHARED = re.compile(r"\.\./shared|shared/data|[\"']shared[\"']\s*/\s*[\"']data[\"']")


def shared_mentions(folders: tuple[Path, ...]) -> list[str]:
    """``path:line: text`` of every line of a text file under ``folders`` naming ../shared."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary
            for number, line in enumerate(text.splitlines(), 1):
                if SHARED.search(line):
                    found.append(f"{path.relative_to(folder.parent)}:{number}: {line.strip()}")
    return found


def test_no_product_file_names_the_shared_folder() -> None:
    assert shared_mentions(tuple(ROOT / name for name in PRODUCT)) == []


def test_the_search_finds_each_spelling(tmp_path: Path) -> None:
    spellings = ['"../shared/ANCHORS.md"', "ROOT / 'shared' / 'data'", "see shared/data/ludb"]
    (tmp_path / "module.py").write_text("\n".join(["clean = 1", *spellings]))
    assert len(shared_mentions((tmp_path,))) == len(spellings)
