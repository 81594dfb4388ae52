"""Turn system names of the command line into fitted `ListenerSystem`s, and load dataset splits."""

from collections.abc import Callable, Sequence

from .baselines import ListenerSystem, NearestMotionBaseline, NearestSpeechBaseline, RandomBaseline
from .oracle import OracleBaseline
from .random_walk import RandomWalkBaseline

SYSTEM_NAMES = ("random", "nn_motion", "nn_speech", "naive_random_walk", "ours_random_walk", "oracle")
MODEL_PREFIX = "model:"


def load_split(dataset_dir: str, split: str):
    """One split of a 🤗 dataset saved with `save_to_disk` (a `DatasetDict`, or a `Dataset` named by `split`)."""
    from pathlib import Path

    import datasets

    if not Path(dataset_dir).exists():
        raise FileNotFoundError(
            f"no dataset at {dataset_dir!r} (expected a directory written by save_to_disk)"
        )
    dataset = datasets.load_from_disk(dataset_dir)
    if isinstance(dataset, datasets.DatasetDict):
        if split not in dataset:
            raise ValueError(f"{dataset_dir!r} has no split {split!r}; it has {sorted(dataset)}")
        return dataset[split]
    raise ValueError(
        f"{dataset_dir!r} holds a single Dataset; save a DatasetDict with the splits to evaluate"
    )


def _load_vqvae(path: str | None, row: str, option: str):
    if path is None:
        raise ValueError(f"the {row} row needs a VQ-VAE: pass --{option} <dir>")
    from .. import IdentityVQVAE

    return IdentityVQVAE.from_pretrained(path)


def _load_model(directory: str, vqvae, batch_size: int):
    from .. import ListenerForCausalLM, ListenerProcessor
    from ..pipeline import ListenerPipeline

    return ListenerPipeline(
        ListenerForCausalLM.from_pretrained(directory),
        ListenerProcessor.from_pretrained(directory),
        vqvae,
        batch_size=batch_size,
        progress=True,
    )


def build_systems(
    names: Sequence[str],
    train_examples: Callable[[], list[dict]] | list[dict],
    vqvae: str | None = None,
    naive_vqvae: str | None = None,
    sentence_model: str = "sentence-transformers/all-MiniLM-L6-v2",
    walk_neighbors: int = 8,
    batch_size: int = 8,
    seed: int = 0,
) -> dict[str, ListenerSystem]:
    """Fitted systems, by row name.

    Args:
        names (`list[str]`): rows among `SYSTEM_NAMES`, or `model:<dir>` (a `ListenerForCausalLM` and
            its `ListenerProcessor` saved in `<dir>`, decoded by the `vqvae`).
        train_examples (`list[dict]` or a function returning it): train windows of the retrieval
            baselines; a function is called once, only if one of them is asked for.
        vqvae (`str`, *optional*): identity VQ-VAE dir (ours_random_walk, oracle, model rows).
        naive_vqvae (`str`, *optional*): none/none VQ-VAE dir (naive_random_walk).
        sentence_model (`str`): sentence-transformers model of nn_speech.
        walk_neighbors (`int`): neighbourhood size of the random walks.
        batch_size (`int`): windows per generate call of model rows.
        seed (`int`): seed of random and of the random walks.
    """
    names = [name.strip() for name in names if name.strip()]
    unknown = [name for name in names if name not in SYSTEM_NAMES and not name.startswith(MODEL_PREFIX)]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose among {list(SYSTEM_NAMES)} or model:<dir>")
    if len(set(names)) != len(names):
        raise ValueError(f"a system is listed twice in {names}")
    train = None
    loaded_vqvae = {}

    def train_windows():
        nonlocal train
        if train is None:
            train = train_examples() if callable(train_examples) else train_examples
        return train

    def identity_vqvae(row):
        if "ours" not in loaded_vqvae:
            loaded_vqvae["ours"] = _load_vqvae(vqvae, row, "vqvae")
        return loaded_vqvae["ours"]

    systems = {}
    for name in names:
        if name == "random":
            systems[name] = RandomBaseline(seed=seed).fit(train_windows())
        elif name == "nn_motion":
            systems[name] = NearestMotionBaseline().fit(train_windows())
        elif name == "nn_speech":
            systems[name] = NearestSpeechBaseline(model_name_or_path=sentence_model).fit(train_windows())
        elif name == "naive_random_walk":
            walk_vqvae = _load_vqvae(naive_vqvae, name, "naive_vqvae")
            systems[name] = RandomWalkBaseline(walk_vqvae, num_neighbors=walk_neighbors, seed=seed)
        elif name == "ours_random_walk":
            systems[name] = RandomWalkBaseline(identity_vqvae(name), num_neighbors=walk_neighbors, seed=seed)
        elif name == "oracle":
            systems[name] = OracleBaseline(identity_vqvae(name))
        else:
            directory = name[len(MODEL_PREFIX) :]
            systems[name] = _load_model(directory, identity_vqvae(name), batch_size)
    return systems


__all__ = ["MODEL_PREFIX", "SYSTEM_NAMES", "build_systems", "load_split"]
