"""Streaming VQ-VAE decoding: how far a bounded look-back is from decoding the whole window.

A live listener decodes each new listener code together with the `look_back - 1` codes before it and hands out
only the newest code's 8 frames (`mmlistener.streaming.StreamingDecoder`). The decoder's convolutions read both
neighbours and its AdaIN / instance norm normalises over time, so the frames differ from those of decoding the
whole window at once. For windows of a saved token dataset (their `listener_codes` and `listener_identity`) and
each look-back, printed: the L2 (mean squared error, `mmlistener.evaluation.l2`) between the streamed frames and
the whole-window decoding of the same codes (mean and worst window), the L2 of the streamed frames to the ground
truth motion, and the decode time per group; then a reference row (the whole-window decoding itself) and the scale
of the motion (the L2 of each window's mean frame to the window). Prints figures; asserts nothing.

    .venv/bin/python bench/streaming_decode.py [--vqvae outputs/demo/vqvae] [--dataset outputs/demo/dataset_tokens]
        [--codes dataset|encode|generate [--lm outputs/demo/lm_stage2]] [--splits test validation] [--look_backs 2 3 4 6 8 12 16 30] [--threads 1]
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from datasets import load_from_disk

from mmlistener import IdentityVQVAE
from mmlistener.evaluation import l2
from mmlistener.evaluation.tables import markdown_table
from mmlistener.runs import load_pipeline
from mmlistener.streaming import StreamingDecoder


def streamed(vqvae, codes: list[int], identity: np.ndarray, look_back: int) -> tuple[np.ndarray, float]:
    """Frames `(len(codes) * 8, 56)` of the codes pushed one at a time, and the mean seconds per push."""
    decoder = StreamingDecoder(vqvae, identity, look_back)
    start = time.perf_counter()
    frames = np.concatenate([decoder.push(code) for code in codes])
    return frames, (time.perf_counter() - start) / len(codes)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vqvae", default="outputs/demo/vqvae", help="a trained IdentityVQVAE directory")
    parser.add_argument("--dataset", default="outputs/demo/dataset_tokens", help="a dataset with listener_codes")
    parser.add_argument(
        "--codes",
        choices=("dataset", "encode", "generate"),
        default="dataset",
        help="the dataset's listener_codes; codes of the listener motion encoded by --vqvae (for a VQ-VAE other "
        "than the one that tokenised the dataset); or the codes --lm generates (greedy) for each window",
    )
    parser.add_argument("--lm", default=None, help="a trained ListenerForCausalLM, for --codes generate")
    parser.add_argument("--splits", nargs="+", default=["test", "validation"], help="splits whose windows are used")
    parser.add_argument("--look_backs", nargs="+", type=int, default=[2, 3, 4, 6, 8, 12, 16, 30])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    vqvae = IdentityVQVAE.from_pretrained(args.vqvae).eval()
    dataset = load_from_disk(args.dataset)
    windows = [example for split in args.splits for example in dataset[split]]
    rate = vqvae.config.downsample_rate
    whole, truth, identities, scale = [], [], [], []
    if args.codes == "generate":
        if args.lm is None:
            raise ValueError("--codes generate needs --lm, the listener model that generates the codes")
        _, _, pipeline = load_pipeline(args.lm, vqvae)
        for start in range(0, len(windows), 8):
            batch = windows[start : start + 8]
            for example, row in zip(batch, pipeline.own_codes(pipeline.generate_codes(batch), batch, rate)):
                example["listener_codes"] = row.tolist()
    for example in windows:
        identity = np.asarray(example["listener_identity"], dtype=np.float32)
        gt = np.asarray(example["listener_motion"], dtype=np.float32)
        if args.codes == "encode":
            encoded = vqvae.encode(torch.from_numpy(gt)[None], identity=torch.from_numpy(identity)[None])
            example["listener_codes"] = encoded.codes[0].tolist()
        codes = torch.tensor([example["listener_codes"]])
        motion = vqvae.decode(codes, identity=torch.from_numpy(identity)[None]).motion[0].numpy()[: len(gt)]
        whole.append(motion)
        truth.append(gt)
        identities.append(identity)
        scale.append(l2(gt.mean(0, keepdims=True).repeat(len(gt), 0), gt))
    lengths = [len(example["listener_codes"]) for example in windows]
    print(
        f"{len(windows)} windows of {args.dataset} ({', '.join(args.splits)}), {min(lengths)} to {max(lengths)} "
        f"codes (median {statistics.median(lengths):g}) "
        f"({rate} frames per code at 30 fps, {args.codes} codes); VQ-VAE {args.vqvae} (decoder norm "
        f"{vqvae.config.decoder_norm}, causal decoder {vqvae.config.causal_decoder}); "
        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.2f}"
    )
    headers = ["seconds", "L2 to whole (mean)", "L2 to whole (worst)", "L2 to truth", "ms / group"]
    rows = {}
    for look_back in args.look_backs:
        gaps, to_truth, times = [], [], []
        for example, motion, gt, identity in zip(windows, whole, truth, identities):
            frames, seconds = streamed(vqvae, example["listener_codes"], identity, look_back)
            frames = frames[: len(gt)]  # the last code of a window of 8k + j frames decodes 8 frames
            gaps.append(l2(frames, motion))
            to_truth.append(l2(frames, gt))
            times.append(seconds)
        rows[str(look_back)] = [
            f"{look_back * rate / 30:.2f}",
            f"{statistics.mean(gaps):.4f}",
            f"{max(gaps):.4f}",
            f"{statistics.mean(to_truth):.4f}",
            f"{1000 * statistics.mean(times):.1f}",
        ]
    reference = statistics.mean(l2(motion, gt) for motion, gt in zip(whole, truth))
    rows["whole window"] = ["", "0", "0", f"{reference:.4f}", ""]
    print(markdown_table("look-back (codes)", headers, rows))
    print(f"motion scale: L2 of each window's mean frame to the window = {statistics.mean(scale):.4f}")


if __name__ == "__main__":
    main()
