"""The modeling files a saved processor needs beside its own, for `AutoProcessor` remote code.

transformers saves a processor registered for `AutoProcessor` with its module file and every file that module
imports relatively (`from .x import ...`, recursively), all in one folder. The processor's files reach modeling's
constants and token layout through same-named modules of `processing/` (`constants.py`, `token_layout.py`) that
hand them on; `write_modeling_files` puts modeling's own files there in their place, so that the saved files import
nothing but each other and installed packages.
"""

import shutil
from pathlib import Path

# the modules of processing/ that hand on modeling's module of the same name
MODELING_FILES = ("constants.py", "token_layout.py")


def write_modeling_files(directory) -> list[Path]:
    """Copy modeling's `MODELING_FILES` into `directory` (a saved processor's folder); returns the paths written.

    Nothing is written where this file runs as remote code itself (no modeling folder beside it): the files
    transformers saved are modeling's already. A folder without the processor's own file is an error.
    """
    directory = Path(directory)
    if not (directory / "processing_listener.py").is_file():
        raise FileNotFoundError(f"{directory} holds no processing_listener.py: save the processor there first")
    modeling = Path(__file__).resolve().parent.parent / "modeling"
    if not modeling.is_dir():
        return []
    written = []
    for name in MODELING_FILES:
        written.append(Path(shutil.copyfile(modeling / name, directory / name)))
    return written


__all__ = ["MODELING_FILES", "write_modeling_files"]
