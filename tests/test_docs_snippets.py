"""Every ```python block in README.md and docs/*.md runs as written.

The blocks of one page run in order in one namespace, as a reader pasting them into one Python
session would (a later block may use what an earlier one defined), in a temporary working
directory. A block that cannot run here (it needs a GPU, a network, a file of the reader's)
is marked with an HTML comment on the line before its fence, which Markdown does not show::

    <!-- no-test -->
    ```python

A block that imports the reader's own package (``mylaw``, ``flowkit_bounded``: the example
plugin a guide builds) cannot be imported here; it is compiled and the rest of the page runs.
A page that reads ``run.h5`` finds a tiny one in the working directory.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_MARK = "<!-- no-test -->"
OURS = {"flowkit", "flowkit_builtins"}
#: Pages generated from code whose examples are run elsewhere: only compiled here.
#: docs/plugins.md comes from flowkit/hookspecs.py and docs/examples/hooks/ (tests run those
#: modules); its blocks use the guide's imaginary ``mylaw`` package.
COMPILE_ONLY = {"plugins.md"}
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line number, code, marked to skip)`` of every python block of a page."""
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").splitlines()
        skip = bool(before) and before[-1].strip() == SKIP_MARK
        blocks.append((text.count("\n", 0, match.start()) + 1, match.group(1), skip))
    return blocks


def test_block_extraction_honours_the_skip_mark():
    page = "x\n```python\na = 1\n```\n<!-- no-test -->\n```python\nraise SystemExit\n```\n"
    assert python_blocks(page) == [(2, "a = 1\n", False), (6, "raise SystemExit\n", True)]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    blocks = [b for b in python_blocks(page.read_text(encoding="utf-8")) if not b[2]]
    if not blocks:
        pytest.skip("no python blocks to run")
    if page.name in COMPILE_ONLY:
        for line, code, _ in blocks:
            compile(code, f"{page.name}:{line}", "exec")
        return
    monkeypatch.chdir(tmp_path)
    if any('"run.h5"' in code for _, code, _ in blocks):
        tiny = ["run", "nice", "--dataset", "digits", "--layers", "3", "--hidden", "8",
                "--depth", "1", "--epochs", "1", "--num-samples", "4", "-q",
                "--out", "run.h5"]  # fmt: skip
        assert CliRunner().invoke(cli, tiny).exit_code == 0
    namespace: dict = {"__name__": "__docs__"}
    for line, code, _ in blocks:
        compiled = compile(code, f"{page.name}:{line}", "exec")
        try:
            exec(compiled, namespace)
        except ModuleNotFoundError as err:
            top = (err.name or "").split(".")[0]
            if top and top not in OURS and importlib.util.find_spec(top) is None:
                continue  # the reader's own example package
            pytest.fail(f"{page.name}, block at line {line}: {type(err).__name__}: {err}")
        except Exception as err:
            pytest.fail(f"{page.name}, block at line {line}: {type(err).__name__}: {err}")
