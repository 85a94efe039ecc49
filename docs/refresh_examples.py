"""Re-run the examples of Markdown pages and write their real output back.

Usage (from the repository root):
``.venv/bin/python docs/refresh_examples.py README.md docs/readme/data.md`` (no argument: every
page that tests/core/test_docs_pages.py checks). How a page is run, and what it may hold, is
described in tests/docs_examples.py. Review the diff before committing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.docs_examples import pages, rewrite  # noqa: E402

if __name__ == "__main__":
    chosen = [ROOT / name for name in sys.argv[1:]] or pages()
    for page in chosen:
        print(f"{page.relative_to(ROOT)}: {rewrite(page)} example(s)")
