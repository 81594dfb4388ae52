"""Build a builder's splits into a `DatasetDict`, cached by the content of `data_dir`, and report sizes."""

import hashlib
import os

import datasets
from datasets.exceptions import DatasetGenerationError


def _data_dir_hash(data_dir: str) -> str:
    """A digest of the names, sizes and modification times under `data_dir`: a changed file rebuilds."""
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(data_dir)):
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            digest.update(
                f"{os.path.relpath(os.path.join(folder, name), data_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:16]


def build_dataset(
    builder_class: type[datasets.DatasetBuilder],
    data_dir: str,
    config_name: str | None = None,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    verbose: bool = True,
    **config_kwargs,
) -> datasets.DatasetDict:
    """Prepare every split of `builder_class` (e.g. [`L2LTrevor`], [`RealTalk`]) read from `data_dir`.

    Args:
        builder_class: a `GeneratorBasedBuilder` of `mmlistener.data`.
        data_dir (`str`): the raw release (or manifest folder).
        config_name (`str`, *optional*): builder config (`"lm_listener"`, `"l2l_original"`, ...).
        cache_dir (`str`, *optional*): where the Arrow files go (default: the 🤗 datasets cache). A rerun with
            unchanged files reuses them.
        num_proc (`int`, *optional*): processes for generation (useful with several source files).
        verbose (`bool`, defaults to `True`): print the number of windows per split.
        **config_kwargs: settings of the builder config (`stride=120`, `history_seconds=2.0`, ...).
    """
    if not os.path.isdir(data_dir):
        raise ValueError(f"data_dir {data_dir!r} is not a directory")
    builder = builder_class(
        config_name=config_name,
        data_dir=data_dir,
        cache_dir=cache_dir,
        hash=_data_dir_hash(data_dir),
        **config_kwargs,
    )
    try:
        builder.download_and_prepare(num_proc=num_proc)
    except DatasetGenerationError as error:
        # the builders raise ValueErrors naming the file and key: surface them, not the generic wrapper
        if isinstance(error.__cause__, ValueError):
            raise error.__cause__ from None
        raise
    dataset = builder.as_dataset()
    if verbose:
        sizes = ", ".join(f"{split}: {len(part)}" for split, part in dataset.items())
        print(f"{builder_class.__name__}/{builder.config.name} windows per split -> {sizes}")
    return dataset


__all__ = ["build_dataset"]
