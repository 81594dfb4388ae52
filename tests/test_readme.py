"""README.md and the docs/ pages: their code runs, their links resolve, the README stays short.

Every ```python block of README.md and of each docs/*.md page runs as written: the blocks of one page in
order, in one namespace, in a temporary cwd. A page whose Python reads `outputs/demo` finds there the
output of a small-budget demo run, as a user has it after `make demo`.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 8192

BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?:(?!\n[ \t]*\n).)+?\1", re.DOTALL)  # a span may wrap, not cross a blank line
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^[ \t]*\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+\"[^\"]*\")?[ \t]*$", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """`(line number of the opening fence, code)` of every ```python block, in order."""
    return [(text.count("\n", 0, match.start()) + 1, match.group(1)) for match in BLOCK.finditer(text)]


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code spans (their brackets are not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def relative_links(text: str) -> list[str]:
    """Targets of the inline and reference links and images that are not URLs, in order."""
    targets = [*LINK.findall(prose(text)), *REFERENCE.findall(prose(text))]
    return [target for target in targets if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)]


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces as `-`, repeats `-1`, `-2`..."""
    anchors, seen = set(), {}
    for heading in HEADING.findall(FENCE.sub("", text)):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)


PAGES_WITH_CODE = [
    page for page in PAGES if page == README or python_blocks(page.read_text(encoding="utf-8"))
]


def test_blocks_are_found():
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x + 1\n```\n"
    assert python_blocks(text) == [(2, "x = 1\n"), (8, "y = x + 1\n")]


def test_links_and_anchors_are_found():
    text = (
        'See [a](docs/a.md), [the\nsection](b.md#two-words), ![img](images/x.png "title"),\n'
        "[web](https://example.org), `[not](code.md)` and [same page](#top).\n"
        "```bash\necho [no](link.md)\n# not a heading\n```\n[ref]: docs/ref.md\n"
        "# Top\n## Two words: `here`?\n## Two words: here\n"
    )
    assert relative_links(text) == ["docs/a.md", "b.md#two-words", "images/x.png", "#top", "docs/ref.md"]
    assert heading_anchors(text) == {"top", "two-words-here", "two-words-here-1"}


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=page_id)
@pytest.mark.usefixtures("single_thread")
def test_python_blocks_run(page, tmp_path, monkeypatch, request):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert blocks, f"{page_id(page)} has no ```python block"
    (tmp_path / "outputs").mkdir()
    if any("outputs/demo" in code for _, code in blocks):  # only pages that read it pay for the demo run
        demo = request.getfixturevalue("small_demo")[2]
        (tmp_path / "outputs" / "demo").symlink_to(demo, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{page_id(page)}:{line}", "exec"), namespace)
        except Exception as error:  # name the failing block, keep the traceback
            raise AssertionError(f"{page_id(page)} python block at line {line} failed: {error!r}") from error


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, (
        f"README.md is {size} bytes, over {README_MAX_BYTES}: move reference text to a page of docs/ and link it"
    )


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        file = (page.parent / unquote(path)).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file}")
        elif (
            anchor
            and file.suffix == ".md"
            and unquote(anchor) not in heading_anchors(file.read_text("utf-8"))
        ):
            broken.append(f"{target}: no heading with anchor #{anchor} in {page_id(file)}")
    assert not broken, f"{page_id(page)} has broken links:\n" + "\n".join(broken)
