"""Every ```python block of README.md runs as written, in order, in one namespace, in a temporary cwd.

The cwd holds `outputs/demo` from a small-budget demo run, as a user has it after `make demo`.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """`(line number of the opening fence, code)` of every ```python block, in order."""
    return [(text.count("\n", 0, match.start()) + 1, match.group(1)) for match in BLOCK.finditer(text)]


def test_blocks_are_found():
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x + 1\n```\n"
    assert python_blocks(text) == [(2, "x = 1\n"), (8, "y = x + 1\n")]


@pytest.mark.usefixtures("single_thread")
def test_readme_python_blocks_run(tmp_path, monkeypatch, small_demo):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```python block"
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "demo").symlink_to(small_demo[2], target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as error:  # name the failing block, keep the traceback
            raise AssertionError(f"README.md python block at line {line} failed: {error!r}") from error
