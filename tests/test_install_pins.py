"""The tested set installs off this machine: no pin carries a local build label (`torch==2.13.0+cpu`), which the
public index never serves, so `make test` / `make test-oldest` resolve there as here (docs/install.md)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a version with a local label: `==1.2.3+cpu`, `== 2.0+cu130`
LOCAL_LABEL = re.compile(r"==\s*[0-9][^\s;#]*\+[A-Za-z0-9.]+")


def local_labels(text: str) -> list[str]:
    """The pins of `text` (a requirements file, a Makefile) that carry a local build label."""
    return [match.group(0) for match in LOCAL_LABEL.finditer(text)]


def test_the_pattern_finds_a_local_label():
    assert local_labels("TORCH_PIN ?= torch==2.13.0+cpu\nnumpy==2.4.6\n") == ["==2.13.0+cpu"]
    assert local_labels("torch==2.13.0\npillow==12.3.0 ; python_version >= '3.11'\n") == []


def test_no_tested_pin_has_a_local_build_label():
    for name in ("constraints.txt", "Makefile", "setup.cfg"):
        assert local_labels((ROOT / name).read_text(encoding="utf-8")) == [], f"{name} pins a local build"


def test_the_makefile_installs_the_release_torch_pins():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    (pinned,) = re.findall(r"^torch==(\S+)$", constraints, flags=re.MULTILINE)
    assert f"TORCH_PIN ?= torch=={pinned}" in makefile and f"torch=={pinned}\n" in makefile
