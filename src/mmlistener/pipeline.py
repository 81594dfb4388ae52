"""End-to-end listener generation: dataset windows -> processor -> LM `generate` -> VQ-VAE `decode`.

`ListenerPipeline` has the interface of the evaluation baselines (`predict(examples)` -> one raw
listener motion array `(T_i, 56)` per window), so the results table scores it like any baseline.
"""

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .processing.processing_listener import EXAMPLE_KEYS

# Speaker-side keys of a dataset example that the processor reads. `listener_codes` is left out on
# purpose: at inference the listener slots must come from the model, never from the ground truth.
SPEAKER_KEYS = tuple(key for key in EXAMPLE_KEYS if key != "listener_codes")


def check_compatible(listener_config, processor, vqvae_config) -> None:
    """Raise a `ValueError` unless the LM, its processor and the VQ-VAE agree on the listener codes.

    The three hold the same two numbers: the codebook size (`num_listener_tokens` of the LM and the processor,
    `codebook_size` of the VQ-VAE) and the frames per code (`group_size`, `group_size`, `downsample_rate`).
    A mismatch would decode the wrong codes, or the right codes at the wrong rate, without any error. The LM and
    its processor also hold the frame rate (`fps`), by which the processor places words and codes in groups.
    """
    if listener_config.fps != processor.fps:
        raise ValueError(
            f"the listener model works at {listener_config.fps} fps but its processor at {processor.fps}: words and "
            "codes would enter the wrong groups"
        )
    pairs = {
        "codebook size": (listener_config.num_listener_tokens, processor.num_listener_tokens, vqvae_config.codebook_size),
        "frames per code": (listener_config.group_size, processor.group_size, vqvae_config.downsample_rate),
    }
    for what, (model_value, processor_value, vqvae_value) in pairs.items():
        if len({model_value, processor_value, vqvae_value}) > 1:
            raise ValueError(
                f"the listener model, its processor and the VQ-VAE disagree on the {what}: model {model_value}, "
                f"processor {processor_value}, VQ-VAE {vqvae_value}; train the LM on this VQ-VAE's codes "
                "(mmlistener-train-lm --vqvae_path sets its layout from the VQ-VAE)"
            )


class ListenerPipeline:
    """Generate listener motion for dataset windows with a trained LM and an identity VQ-VAE.

    Steps for a batch of windows: `processor(words, history_words, acoustic_codes, emotion_ids, ...,
    num_frames)` -> `model.generate(**batch)` -> listener codes `(B, num_groups)` ->
    `vqvae.decode(codes, identity=listener_identity)` -> motion `(B, num_groups * 8, 56)`, each cut
    to its window's `T` frames.

    Args:
        model (`ListenerForCausalLM`): the listener language model.
        processor (`ListenerProcessor`): builds the interleaved speaker sequence.
        vqvae (`IdentityVQVAE`): decodes listener codes in the style of each window's listener.
        batch_size (`int`, defaults to 8): windows per `generate` call.
        generation_kwargs (`dict`, *optional*): passed to `generate` (e.g. `do_sample=True`); greedy by default.
        progress (`bool`, defaults to `False`): show a tqdm bar over the windows in `predict`.

    Example (with trained parts):

    ```python
    pipeline = ListenerPipeline(ListenerForCausalLM.from_pretrained("outputs/lm"),
                                ListenerProcessor.from_pretrained("outputs/lm"),
                                IdentityVQVAE.from_pretrained("outputs/vqvae"))
    motions = pipeline.predict(load_from_disk("data/trevor")["test"].select(range(4)))
    ```
    """

    def __init__(
        self,
        model,
        processor,
        vqvae,
        batch_size: int = 8,
        generation_kwargs: dict | None = None,
        progress: bool = False,
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        check_compatible(model.config, processor, vqvae.config)
        self.model = model.eval()
        self.processor = processor
        self.vqvae = vqvae.eval()
        self.batch_size = batch_size
        self.generation_kwargs = dict(generation_kwargs or {})
        self.progress = progress

    def fit(self, train_examples: Sequence[dict]) -> "ListenerPipeline":
        """Nothing to fit: the model is trained by `mmlistener.training`. Here for the shared interface."""
        return self

    @staticmethod
    def num_frames(example: dict) -> int:
        """Frames to generate for a window: its `num_frames`, else the length of its listener or speaker motion."""
        if example.get("num_frames") is not None:
            return int(example["num_frames"])
        for key in ("listener_motion", "speaker_motion"):
            if example.get(key) is not None:
                return len(example[key])
        raise ValueError(
            "cannot tell the window's length: give num_frames, listener_motion or speaker_motion"
        )

    @classmethod
    def processor_inputs(cls, examples: Sequence[dict]) -> dict:
        """The processor's arguments for a batch of windows: their speaker streams (those every window has) and
        lengths, never their listener codes."""
        inputs = {"num_frames": [cls.num_frames(example) for example in examples]}
        for key in SPEAKER_KEYS:
            values = [example.get(key) for example in examples]
            if all(value is not None for value in values):
                inputs[key] = values
        return inputs

    @classmethod
    def own_codes(cls, codes: torch.LongTensor, examples: Sequence[dict], group_size: int) -> list[torch.LongTensor]:
        """Each window's own codes `(ceil(T_i / group_size),)` of a batch's `codes (batch, num_groups)` (`generate`
        pads shorter windows by repeating their last code)."""
        return [row[: -(-cls.num_frames(example) // group_size)] for row, example in zip(codes, examples)]

    @torch.no_grad()
    def generate_codes(self, examples: Sequence[dict]) -> torch.LongTensor:
        """Listener codes `(len(examples), num_groups)` of one batch of windows."""
        batch = self.processor(**self.processor_inputs(examples), return_tensors="pt")
        batch = batch.to(self.model.device)
        return self.model.generate(**batch, **self.generation_kwargs)

    @torch.no_grad()
    def decode(self, codes: torch.LongTensor, examples: Sequence[dict]) -> list[np.ndarray]:
        """Raw motion `(T_i, 56)` of each window from its codes `(batch, num_groups)` and listener identity.

        Window i decodes only its own `ceil(T_i / rate)` codes (`generate` pads shorter samples by
        repeating their last code); windows with the same code count are decoded together.
        """
        if len(examples) == 0:
            raise ValueError("examples is empty: decode needs one window per row of codes")
        if codes.ndim != 2 or codes.shape[0] != len(examples):
            raise ValueError(
                f"codes must have shape (len(examples), num_groups) = ({len(examples)}, num_groups), "
                f"got {tuple(codes.shape)}"
            )
        rate = self.vqvae.config.downsample_rate
        frames = [self.num_frames(example) for example in examples]
        lengths = [-(-count // rate) for count in frames]
        if max(lengths) > codes.shape[1]:
            raise ValueError(
                f"{codes.shape[1]} codes per window, but a window of {max(frames)} frames needs {max(lengths)}"
            )
        motions: list[np.ndarray | None] = [None] * len(examples)
        for length in sorted(set(lengths)):
            rows = [i for i, own in enumerate(lengths) if own == length]
            identity = np.stack(
                [np.asarray(examples[i]["listener_identity"], dtype=np.float32) for i in rows]
            )
            decoded = self.vqvae.decode(
                codes[rows, :length].to(self.vqvae.device),
                identity=torch.as_tensor(identity, device=self.vqvae.device),
            ).motion
            for row, motion in zip(rows, decoded.float().cpu().numpy()):
                motions[row] = motion[: frames[row]]
        return motions

    @torch.no_grad()
    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        """Raw listener motion `(T_i, 56)` for each window (a dataset split or a list of example dicts).

        Each window needs its speaker inputs (`words`, `acoustic_codes`, `emotion_ids` or
        `speaker_motion` + `speaker_shape`, ...), its `listener_identity (100,)` and a length
        (`num_frames`, or `listener_motion` / `speaker_motion`); `listener_codes` are never read.
        """
        motions = []
        bar = tqdm(total=len(examples), desc="generating", unit="window", disable=not self.progress)
        for start in range(0, len(examples), self.batch_size):
            batch = [examples[index] for index in range(start, min(start + self.batch_size, len(examples)))]
            for index, example in enumerate(batch):
                if example.get("listener_identity") is None:
                    raise ValueError(
                        f"window {start + index} has no 'listener_identity' (the listener's shape beta)"
                    )
            motions.extend(self.decode(self.generate_codes(batch), batch))
            bar.update(len(batch))
        bar.close()
        return motions


__all__ = ["ListenerPipeline"]
