"""Throughput of dataset building and speaker-feature extraction on the synthetic corpus (prints figures).

    .venv/bin/python bench/dataset_building.py

Measured in one run, side by side: writing the corpus; building the windows cold and again from the cache;
turning windows into model inputs with the processor; emotion ids with an EmotionRecognizer of EMOCA's size
(1 and 2 processes); acoustic codes with a SpeechTokenizer of the released size (random weights: the
compute is that of the real model, the codes are meaningless).
"""

import os
import sys

# this file is named like the 🤗 `datasets` package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402

from mmlistener import EmotionRecognizer, EmotionRecognizerConfig, ListenerProcessor  # noqa: E402
from mmlistener.data import L2LTrevor, build_dataset, write_synthetic_corpus  # noqa: E402
from mmlistener.data.preparation import SpeakerFeatures  # noqa: E402
from mmlistener.processing import SpeechTokenizerCodes, gpt2_tokenizer_from_tiktoken  # noqa: E402

SPEECHTOKENIZER_SIZE = {  # hyperparameters of the released 16 kHz SpeechTokenizer
    "n_filters": 64,
    "dimension": 1024,
    "semantic_dimension": 768,
    "strides": [8, 5, 4, 2],
    "lstm_layers": 2,
    "bidirectional": True,
    "dilation_base": 2,
    "residual_kernel_size": 3,
    "n_residual_layers": 1,
    "activation": "ELU",
    "sample_rate": 16000,
    "n_q": 8,
    "codebook_size": 1024,
}


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def extract(dataset, extractor, num_proc=None):
    return dataset.map(extractor, num_proc=num_proc, features=dataset.features, load_from_cache_file=False)


def main():
    torch.manual_seed(0)
    root = Path(tempfile.mkdtemp(prefix="bench_datasets_"))
    counts = {"num_train": 24, "num_val": 4, "num_test": 8}
    _, seconds = timed(lambda: write_synthetic_corpus(str(root / "raw"), seed=0, **counts))
    segments = sum(counts.values())
    print(
        f"write corpus:            {segments} segments in {seconds:.2f} s  ({segments / seconds:.1f} segments/s)"
    )

    dataset, cold = timed(lambda: build_dataset(L2LTrevor, str(root / "raw"), cache_dir=str(root / "cache")))
    _, warm = timed(
        lambda: build_dataset(L2LTrevor, str(root / "raw"), cache_dir=str(root / "cache"), verbose=False)
    )
    windows = sum(len(part) for part in dataset.values())
    print(f"build (cold):            {windows / cold:8.1f} windows/s  ({windows} windows in {cold:.2f} s)")
    print(f"build (cached rerun):    {windows / warm:8.1f} windows/s  ({cold / warm:.1f}x faster than cold)")

    train = dataset["train"]
    tokenizer = gpt2_tokenizer_from_tiktoken()
    processor = ListenerProcessor(tokenizer)
    rows = [train[i] for i in range(len(train))]
    _, seconds = timed(lambda: [processor.encode_examples(rows[i : i + 16]) for i in range(0, len(rows), 16)])
    print(f"processor inputs:        {len(rows) / seconds:8.1f} windows/s  (encode_examples, batches of 16)")

    recognizer = EmotionRecognizer(EmotionRecognizerConfig()).eval()
    with_emotion = ListenerProcessor(tokenizer, emotion_recognizer=recognizer, emotion_checkpoint="in-memory")
    extractor = SpeakerFeatures(processor=with_emotion, emotion=True, recompute_emotion=True)
    subset = train.select(range(min(16, len(train))))
    # two processes first: a process forked after torch has run its thread pool can hang
    _, two = timed(lambda: extract(subset, extractor, num_proc=2))
    _, one = timed(lambda: extract(subset, extractor))
    print(
        f"emotion ids (EMOCA MLP): {len(subset) / one:8.1f} windows/s with 1 process, {len(subset) / two:.1f} with 2 "
        f"({one / two:.2f}x)"
    )

    test = dataset["test"].select(range(min(2, len(dataset["test"]))))
    media = root / "media"
    rng = np.random.default_rng(0)
    for source in set(test["source"]):
        segment_end = max(
            s + len(m)
            for s, m, src in zip(test["start_frame"], test["speaker_motion"], test["source"])
            if src == source
        )
        path = (media / source).with_suffix(".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(
            path, 0.1 * rng.standard_normal(int((segment_end / 30 + 1) * 16000)).astype(np.float32), 16000
        )
    codec = SpeechTokenizerCodes.from_config(SPEECHTOKENIZER_SIZE)
    with_codec = ListenerProcessor(tokenizer, acoustic_codec=codec)
    extractor = SpeakerFeatures(processor=with_codec, media_dir=str(media), acoustic=True)
    _, seconds = timed(lambda: extract(test, extractor))
    audio_seconds = sum(len(m) for m in test["speaker_motion"]) / 30
    print(
        f"acoustic codes (ST):     {len(test) / seconds:8.2f} windows/s  ({audio_seconds / seconds:.1f} s of audio per "
        f"second, {len(test)} windows)"
    )


if __name__ == "__main__":
    main()
