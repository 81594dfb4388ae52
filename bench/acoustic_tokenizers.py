"""Cost per group of acoustic codes: the weight-free `ProsodyTokenizer` against SpeechTokenizer's sliding window.

A group is 8 listener frames at 30 fps (8 / 30 s of audio, 13.3 codes at 50 Hz), what a listener stream waits for
before each step. Printed side by side, measured in one run, in milliseconds per group:

- ProsodyTokenizer: `encode` of the whole clip (its time / the clip's groups), and `StreamingProsodyCodes`
  pushed one group of audio at a time (p50 / p95 / max / mean per push, the tail's `finish` left out);
- SpeechTokenizer (the released architecture, `CONFIG` of bench/streaming_codes.py, random weights and unfitted
  all-zero codebooks: the encoder and the distance to every code cost the same whatever their values): `encode` of the
  whole clip, `sliding_window_encode` of it (its time / groups), and `SlidingWindowCodes` pushed one group at a
  time (its default 1 s window, 0.2 s right context, one encode per group).

Then the first `encode` of a fresh ProsodyTokenizer in this process (librosa's import and its cached numba
function: paid once per process), the machine's load average at the start and the end, and the thread counts.
The clip: `--seconds` of synthetic voiced audio (bench/streaming_codes.py `voiced_audio`: a harmonic source with
gliding pitch under three formants per syllable, a raised-sine envelope per syllable, a fifth of them silent).

    OMP_NUM_THREADS=1 .venv/bin/python bench/acoustic_tokenizers.py [--seconds 10] [--repeats 5] [--threads 1]
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from streaming_codes import CONFIG, voiced_audio  # bench/streaming_codes.py: the released size, the test clip

from mmlistener.evaluation.tables import markdown_table
from mmlistener.modeling.constants import FPS, GROUP_SIZE
from mmlistener.processing import ProsodyTokenizer, SpeechTokenizerCodes
from mmlistener.processing.streaming_codes import SlidingWindowCodes, sliding_window_encode

SAMPLE_RATE = 16000
GROUP_SECONDS = GROUP_SIZE / FPS  # one group of 8 frames at 30 fps: the blocks of a listener stream


def group_chunks(audio: np.ndarray) -> list[np.ndarray]:
    """`audio` cut at the ends of its groups (8 / 30 s each, boundaries rounded down to whole samples)."""
    groups = int(np.ceil(len(audio) / (SAMPLE_RATE * GROUP_SECONDS)))
    ends = [min(len(audio), int((group + 1) * SAMPLE_RATE * GROUP_SECONDS)) for group in range(groups)]
    return np.split(audio, ends[:-1])


def whole_clip_ms(encode, audio: np.ndarray, repeats: int, groups: float) -> float:
    """The median over `repeats` of `encode(audio)`'s time, per group (ms)."""
    encode(audio)  # warm up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        encode(audio)
        seconds.append(time.perf_counter() - start)
    return 1000 * statistics.median(seconds) / groups


def per_push_ms(make_stream, chunks: list[np.ndarray], repeats: int) -> list[float]:
    """The time of each push (ms) of `chunks` into fresh streams, `repeats` times over (each stream finished)."""
    times = []
    for repeat in range(repeats + 1):
        stream = make_stream()
        for chunk in chunks:
            start = time.perf_counter()
            stream.push(chunk)
            if repeat:  # the first pass warms up
                times.append(1000 * (time.perf_counter() - start))
        stream.finish()
    return times


def push_cells(times: list[float]) -> list[str]:
    return [f"{figure:.2f}" for figure in (*np.percentile(times, [50, 95]), max(times), np.mean(times))]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the synthetic clip")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes of each measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clip and of SpeechTokenizer's weights")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    audio = voiced_audio(args.seconds, seed=args.seed)
    chunks = group_chunks(audio)
    groups = len(audio) / (SAMPLE_RATE * GROUP_SECONDS)

    start = time.perf_counter()
    prosody = ProsodyTokenizer()
    prosody.encode(audio[:SAMPLE_RATE])
    first_call = time.perf_counter() - start

    torch.manual_seed(args.seed)
    speech = SpeechTokenizerCodes.from_config(CONFIG)
    rows = {}
    with torch.no_grad():
        rows["ProsodyTokenizer"] = [
            f"{whole_clip_ms(prosody.encode, audio, args.repeats, groups):.2f}",
            "-",
            *push_cells(per_push_ms(prosody.streaming, chunks, args.repeats)),
        ]
        rows["SpeechTokenizer (random weights)"] = [
            f"{whole_clip_ms(speech.encode, audio, args.repeats, groups):.2f}",
            f"{whole_clip_ms(lambda clip: sliding_window_encode(speech, clip, GROUP_SECONDS), audio, args.repeats, groups):.2f}",
            *push_cells(per_push_ms(lambda: SlidingWindowCodes(speech, GROUP_SECONDS), chunks, args.repeats)),
        ]

    print(
        f"{len(audio) / SAMPLE_RATE:g} s of synthetic voiced audio, {groups:.1f} groups of 8 frames at 30 fps "
        f"({SAMPLE_RATE * GROUP_SECONDS:.1f} samples, 13.3 codes each); {args.repeats} timed passes; torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs, load average {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f} at the start"
    )
    headers = ["encode (whole clip)", "sliding_window_encode", "push p50", "push p95", "push max", "push mean"]
    print("Milliseconds per group:")
    print(markdown_table("tokenizer", headers, rows))
    print(
        f"First ProsodyTokenizer encode in this process (imports librosa, loads its compiled YIN step): "
        f"{1000 * first_call:.0f} ms. Load average {os.getloadavg()[0]:.2f} at the end."
    )


if __name__ == "__main__":
    main()
