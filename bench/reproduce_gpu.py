"""One seed of the study at the paper's LM size on a GPU machine without network, bringing what it lacks first.

    python bench/reproduce_gpu.py configs/reproduce_gpu.yaml [flags of mmlistener.reproduce_gpu]
    python bench/reproduce_gpu.py --requirements    # the pinned distributions the run needs, one a line

The target machine has torch, transformers, accelerate and peft but not the rest (no `datasets`) and no
network. So this script installs every distribution of `RUN_DISTRIBUTIONS` that is missing there, at the
version of `constraints.txt`, from the wheels in `bench/wheels/` (`pip install --no-index --no-deps`), then
this repository itself (editable, no dependencies: the machine's torch and transformers stay), and runs
`python -m mmlistener.reproduce_gpu` with the same arguments. Fill `bench/wheels/` (git ignores it) on a
machine with network, for the target's Python and platform; the error of a missing wheel prints the command
for exactly what is missing:

    pip download --no-deps --python-version 3.11 --platform manylinux_2_28_x86_64 \\
        --platform manylinux2014_x86_64 -d bench/wheels $(python bench/reproduce_gpu.py --requirements)
"""

import importlib.metadata
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / "bench" / "wheels"
CONSTRAINTS = ROOT / "constraints.txt"
# What the run imports beyond torch, transformers, accelerate, peft and their own dependencies: the package's
# requirements on this path and theirs (openai-whisper only for its offline GPT-2 BPE file).
RUN_DISTRIBUTIONS = (
    "datasets", "pyarrow", "dill", "multiprocess", "xxhash", "pandas", "python-dateutil", "tzdata",
    "scipy", "threadpoolctl", "librosa", "audioread", "lazy-loader", "numba", "llvmlite", "decorator", "joblib",
    "msgpack", "pooch", "platformdirs", "soundfile", "cffi", "pycparser", "soxr", "espeakng-loader",
    "matplotlib", "contourpy", "cycler", "fonttools", "kiwisolver", "pillow", "pyparsing", "cloudpickle",
    "tiktoken", "openai-whisper",
)
# The build backend of the editable install of this repository (pyproject.toml: setuptools>=69).
BUILD_BACKEND = "setuptools==84.2.1"


def normalise(name: str) -> str:
    """A distribution name in its canonical form (PEP 503): `Lazy_Loader` -> `lazy-loader`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(names, constraints: Path = CONSTRAINTS) -> list[str]:
    """`name==version` of each of `names`, at the version `constraints` pins; a name it lacks is an error."""
    versions = {}
    for line in constraints.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            versions[normalise(name)] = version.split(";")[0].strip()
    absent = [name for name in names if normalise(name) not in versions]
    if absent:
        raise ValueError(f"{CONSTRAINTS.name} pins no version of {absent}")
    return [f"{name}=={versions[normalise(name)]}" for name in names]


def missing(requirements) -> list[str]:
    """The `name==version` requirements whose distribution is not installed (any version counts as installed)."""
    absent = []
    for requirement in requirements:
        try:
            importlib.metadata.version(requirement.split("==")[0])
        except importlib.metadata.PackageNotFoundError:
            absent.append(requirement)
    return absent


def download_command(requirements, wheels: Path = WHEELS) -> str:
    """The `pip download` command that puts the wheels of `requirements` for this Python and platform in `wheels`.

    pip takes a `--platform` tag literally (manylinux_2_28 does not cover a wheel built for manylinux2014), so on
    Linux the command names this machine's newest manylinux tag and the two that wheels are most often built for.
    """
    from packaging.tags import sys_tags

    supported = [tag.platform for tag in sys_tags() if tag.platform != "any"]
    wanted = [name for name in supported if name.startswith("manylinux_")][:1]
    wanted += [name for name in (f"manylinux_2_28_{platform.machine()}", f"manylinux2014_{platform.machine()}")
               if name in supported and name not in wanted]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (f"pip download --no-deps --python-version {version} "
            + "".join(f"--platform {name} " for name in wanted or supported[:1]) + f"-d {wheels} "
            + " ".join(requirements))


def pip_install(arguments: list[str], requirements, wheels: Path = WHEELS) -> None:
    """`pip install --no-index --no-deps --find-links wheels` of `arguments`; a failure names the command that
    fills `wheels` with `requirements`."""
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--find-links", str(wheels),
               *arguments]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(
            f"could not install {' '.join(arguments)} from {wheels} (no network here):\n{run.stderr[-2000:]}\n"
            f"On a machine with network, fill the folder for this Python and platform, then carry it here:\n"
            f"    {download_command(requirements, wheels)}"
        )


def ensure_installed(wheels: Path = WHEELS) -> list[str]:
    """Install what the run lacks from `wheels`, then this repository when it is not importable; returns what
    was installed."""
    installed = missing(pinned(RUN_DISTRIBUTIONS))
    if installed:
        print(f"installing from {wheels}: {' '.join(installed)}", flush=True)
        pip_install(installed, installed, wheels)
    try:
        importlib.metadata.version("mmlistener")
    except importlib.metadata.PackageNotFoundError:
        backend = missing([BUILD_BACKEND])
        if backend:
            pip_install(backend, backend, wheels)
        print(f"installing {ROOT} (editable, without dependencies)", flush=True)
        pip_install(["--no-build-isolation", "-e", str(ROOT)], [], wheels)
        installed += [*backend, "mmlistener"]
    return installed


def main(argv: list[str]) -> int:
    """Print the requirements (`--requirements`), or install what is missing and run the study; its exit status."""
    if argv == ["--requirements"]:
        print("\n".join([*pinned(RUN_DISTRIBUTIONS), BUILD_BACKEND]))
        return 0
    ensure_installed()
    # A new process: it sees the packages just installed (an editable install is found at start-up).
    return subprocess.call([sys.executable, "-m", "mmlistener.reproduce_gpu", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
