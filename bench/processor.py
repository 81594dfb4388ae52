"""ListenerProcessor timings: one 8-second clip from features and from raw audio, and batched throughput.

The raw path runs tiny randomly initialised front ends (Whisper, SpeechTokenizer, EmotionRecognizer),
so its figure measures the processor's own plumbing plus small models, not real ASR cost.
Prints figures; asserts nothing about time.

    .venv/bin/python bench/processor.py [--clips 1000] [--batch_size 64]
"""

import argparse
import statistics
import time

import numpy as np
import torch

from mmlistener import EmotionRecognizer, EmotionRecognizerConfig, ListenerProcessor
from mmlistener.processing import SpeechTokenizerCodes, WhisperASR, gpt2_tokenizer_from_tiktoken

FPS, SECONDS = 30, 8
FRAMES = FPS * SECONDS


def synthetic_clip(rng: np.random.Generator) -> dict:
    """Features of one 8-second window: ~2.5 words per second, 400 acoustic codes, 30 emotion ids."""
    ends = np.sort(rng.uniform(0, SECONDS, size=20))
    vocabulary = ["yeah", "so", "I", "think", "that", "really", "works", "you", "know", "right"]
    return {
        "words": [{"text": str(rng.choice(vocabulary)), "start": float(e - 0.2), "end": float(e)} for e in ends],
        "history_words": [{"text": "well", "start": -1.2, "end": -1.0}, {"text": "okay", "start": -0.6, "end": -0.4}],
        "acoustic_codes": rng.integers(0, 1024, size=SECONDS * 50).tolist(),
        "emotion_ids": rng.integers(0, 8, size=FRAMES // 8).tolist(),
        "listener_codes": rng.integers(0, 256, size=FRAMES // 8).tolist(),
        "num_frames": FRAMES,
    }


def tiny_front_ends():
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
        n_vocab=51864, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1,
    )  # fmt: skip
    whisper = Whisper(dims).eval()
    with torch.no_grad():
        whisper.decoder.positional_embedding.normal_(std=0.02)  # openai-whisper leaves it uninitialised
    asr = WhisperASR(whisper, temperature=0.0, sample_len=8)
    codec = SpeechTokenizerCodes.from_config(
        {
            "n_filters": 4, "dimension": 16, "semantic_dimension": 16, "strides": [8, 5, 4, 2],
            "lstm_layers": 1, "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3,
            "n_residual_layers": 1, "activation": "ELU", "sample_rate": 16000, "n_q": 2, "codebook_size": 1024,
        }  # fmt: skip
    )
    recognizer = EmotionRecognizer(EmotionRecognizerConfig(hidden_size=64)).eval()
    return asr, codec, recognizer


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    tokenizer = gpt2_tokenizer_from_tiktoken()
    asr, codec, recognizer = tiny_front_ends()
    processor = ListenerProcessor(tokenizer, asr=asr, acoustic_codec=codec, emotion_recognizer=recognizer)

    clip = synthetic_clip(rng)
    features = median_seconds(lambda: processor(**clip, return_tensors="pt"), repeats=50)
    motion, shape = rng.standard_normal((FRAMES, 56)), rng.standard_normal(100)
    stereo_44k = rng.standard_normal((SECONDS * 44100, 2)).astype(np.float32) * 0.05
    raw = median_seconds(
        lambda: processor(
            audio=stereo_44k, sampling_rate=44100, speaker_motion=motion, speaker_shape=shape, return_tensors="pt"
        ),
        repeats=3,
    )
    length = processor(**clip)["attention_mask"][0].count(1)
    print(f"one 8 s clip ({length} tokens), from features: {features * 1e3:8.2f} ms")
    print(f"one 8 s clip, from raw 44.1 kHz stereo audio (tiny front ends): {raw * 1e3:8.2f} ms")

    clips = [synthetic_clip(rng) for _ in range(args.clips)]
    keys = clips[0].keys()

    def batched():
        for start in range(0, len(clips), args.batch_size):
            chunk = clips[start : start + args.batch_size]
            processor(**{key: [c[key] for c in chunk] for key in keys}, return_tensors="pt")

    def one_by_one():
        for c in clips:
            processor(**c, return_tensors="pt")

    batched_seconds = median_seconds(batched, repeats=3)
    single_seconds = median_seconds(one_by_one, repeats=3)
    print(
        f"{args.clips} clips from features, batches of {args.batch_size}: {batched_seconds:.2f} s "
        f"({args.clips / batched_seconds:,.0f} clips/s)"
    )
    print(
        f"{args.clips} clips from features, one call per clip: {single_seconds:.2f} s "
        f"({args.clips / single_seconds:,.0f} clips/s); batched / one-by-one speed: "
        f"{single_seconds / batched_seconds:.2f}x"
    )


if __name__ == "__main__":
    main()
