"""The import direction of ARCHITECTURE.md: a part of mmlistener imports only the parts below it.

Every `import` / `from ... import` of mmlistener in `src/mmlistener` (those inside functions too) is read with
`ast`; a part is a subpackage or a top-level module. A part may import itself and parts of a lower rank, never a
part of its own rank or above. docs/development.md shows the ranks; `python -m pytest tests/test_layers.py` checks
them.
"""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"

# rank of each part, lowest first; a part imports only parts of a lower rank
RANKS = {
    "modeling": 0,  # copied beside saved weights as Hub remote code: imports nothing else of mmlistener
    "arguments": 0,  # the one command-line parser
    "processing": 1,
    "data": 2,
    "rendering": 2,
    "pipeline": 2,
    "long_decoding": 2,
    "__init__": 3,  # the public names and the Auto* registration
    "streaming": 3,
    "listen": 3,  # the function behind mmlistener-listen
    "evaluation": 4,
    "hub": 5,
    "heldout": 5,
    "training": 6,
    "runs": 7,
    "demo": 8,
    "reproduce": 9,
    "reproduce_gpu": 9,  # the study's one-seed run at the paper's LM size (bench/reproduce_gpu.py launches it)
    "cli": 10,  # the console scripts
}
# the modules of modeling/ that rendering may read: the motion layout, never a model
RENDERING_READS = {"mmlistener.modeling.constants"}


def imported_modules(path: Path, package: str, source: Path) -> list[tuple[int, str]]:
    """`(line, absolute module name)` of every mmlistener import in the file at `path`, a module of `package`
    under `source`; `from pkg import name` is the module `pkg.name` where it is one, else `pkg`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            modules = [name] if node.module else [_submodule(name, alias.name, source) for alias in node.names]
            found += [(node.lineno, module) for module in modules]
    return [(line, name) for line, name in found if name.split(".")[0] == "mmlistener"]


def _submodule(package: str, name: str, source: Path) -> str:
    path = source.joinpath(*package.split("."), name)
    return f"{package}.{name}" if path.is_dir() or path.with_suffix(".py").is_file() else package


def part_of(module: str) -> str:
    """The part a module belongs to: `mmlistener.data.windowing` -> `data`, `mmlistener` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(source: Path, ranks: dict) -> list[str]:
    """`"file:line: part imports part"` for every import of `source/mmlistener` that does not go down the ranks."""
    problems = []
    for path in sorted((source / "mmlistener").rglob("*.py")):
        module = ".".join(path.relative_to(source).with_suffix("").parts)
        package = module.removesuffix(".__init__") if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        here = part_of(module.removesuffix(".__init__"))
        if here not in ranks:
            problems.append(f"{path.relative_to(source)}: part {here!r} has no rank in RANKS")
            continue
        for line, name in imported_modules(path, package, source):
            there = part_of(name)
            where = f"{path.relative_to(source)}:{line}"
            if there == here:
                continue
            if there not in ranks:
                problems.append(f"{where}: imports {name}, whose part {there!r} has no rank")
            elif ranks[there] >= ranks[here]:
                problems.append(f"{where}: {here} (rank {ranks[here]}) imports {name} (rank {ranks[there]})")
            elif here == "rendering" and there == "modeling" and name not in RENDERING_READS:
                problems.append(f"{where}: rendering imports {name}; it reads motion arrays only")
    return problems


def test_every_import_goes_down_the_ranks():
    assert upward_imports(SOURCE, RANKS) == []


def test_an_upward_import_is_found(tmp_path):
    """The check itself: a modeling file that imports training, and one relative import up, are both reported."""
    package = tmp_path / "mmlistener"
    (package / "modeling").mkdir(parents=True)
    (package / "training").mkdir()
    (package / "__init__.py").write_text("")
    (package / "modeling" / "__init__.py").write_text("")
    (package / "modeling" / "model.py").write_text("def f():\n    from mmlistener.training import loop\n")
    (package / "training" / "__init__.py").write_text("")
    (package / "training" / "loop.py").write_text("from ..modeling import model\nfrom ..cli import app\n")
    problems = upward_imports(tmp_path, {"__init__": 1, "modeling": 0, "training": 2, "cli": 3})
    assert problems == [
        "mmlistener/modeling/model.py:2: modeling (rank 0) imports mmlistener.training (rank 2)",
        "mmlistener/training/loop.py:2: training (rank 2) imports mmlistener.cli (rank 3)",
    ]
