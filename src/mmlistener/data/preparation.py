"""Raw release -> prepared dataset: build the windows, add speaker features with the processor's front ends
(`datasets.map`, multi-process, cached), save to disk / Parquet with statistics and a dataset card, optionally
push to the Hub. The scripts in `datasets_scripts/` are thin command lines over `prepare_dataset`."""

import hashlib
import json
import os
from dataclasses import dataclass, field

import datasets
import numpy as np

from ..modeling.constants import FPS, GROUP_SIZE, HISTORY_SECONDS
from ..processing.streaming_codes import (
    DEFAULT_RIGHT_CONTEXT_SECONDS,
    DEFAULT_WINDOW_SECONDS,
    HOP_SAMPLES,
    sliding_window_encode,
    window_settings,
)
from .card import build_dataset_card
from .loading import build_dataset
from .media import cut_window, media_path, source_audio
from .reading import motion_statistics
from .windowing import window_words

ACOUSTIC_CODES_MODES = ("offline", "streaming")
FEATURES_VERSION = "1"  # bump when the extraction below changes, to invalidate cached map results


@dataclass
class PreparationArguments:
    """What every preparation script takes (see `datasets_scripts/prepare_*.py --help`)."""

    data_dir: str = field(
        metadata={"help": "The raw release (L2L-trevor) or the manifest folder (RealTalk)."}
    )
    output_dir: str = field(metadata={"help": "Where the prepared DatasetDict, mean/std and README.md go."})
    media_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of speaker audio or video files addressed by each window's `source` (the release's "
            "fname); a file with the same stem and an audio extension also matches. Enables acoustic codes "
            "and --transcribe."
        },
    )
    processor: str | None = field(
        default=None,
        metadata={
            "help": "A saved ListenerProcessor whose front-end checkpoints (ASR, codec, emotion) to use."
        },
    )
    asr_backend: str = field(default="openai-whisper", metadata={"help": "openai-whisper or faster-whisper."})
    asr_checkpoint: str | None = field(default=None, metadata={"help": "Whisper weights (path or name)."})
    transcribe: bool = field(
        default=False, metadata={"help": "Replace the release's words by ASR transcripts of the media."}
    )
    acoustic_codec_type: str | None = field(
        default=None,
        metadata={"help": "speechtokenizer (with the two files below) or prosody (weight-free: no checkpoint)."},
    )
    acoustic_codec_config: str | None = field(default=None, metadata={"help": "SpeechTokenizer config.json."})
    acoustic_codec_checkpoint: str | None = field(default=None, metadata={"help": "SpeechTokenizer weights."})
    acoustic_codes_mode: str = field(
        default="offline",
        metadata={
            "help": "offline: encode each window's audio at once. streaming: as a live stream would "
            "(mmlistener.processing.sliding_window_encode, with the window's preceding audio as left context), "
            "for a model that will read codes from SlidingWindowCodes with the same settings."
        },
    )
    streaming_window_seconds: float = field(
        default=DEFAULT_WINDOW_SECONDS, metadata={"help": "streaming mode: audio encoded per block of codes."}
    )
    streaming_right_context_seconds: float = field(
        default=DEFAULT_RIGHT_CONTEXT_SECONDS,
        metadata={"help": "streaming mode: audio after a block of codes before it is final (the latency)."},
    )
    streaming_hop_seconds: float | None = field(
        default=None,
        metadata={"help": "streaming mode: audio per block of codes (one encode each); default one group of the "
                  "builder config (group_size / fps), as ListenerProcessor.code_streamer streams."},
    )  # fmt: skip
    emotion_checkpoint: str | None = field(
        default=None, metadata={"help": "EmotionRecognizer directory: emotion ids from the speaker's motion."}
    )
    recompute_emotion: bool = field(
        default=False, metadata={"help": "Recompute emotion ids even where the release already has them."}
    )
    num_proc: int | None = field(default=None, metadata={"help": "Processes for feature extraction."})
    cache_dir: str | None = field(
        default=None, metadata={"help": "🤗 datasets cache (reruns resume from it)."}
    )
    parquet: bool = field(
        default=False, metadata={"help": "Also write <output_dir>/parquet/<split>.parquet."}
    )
    push_to_hub: str | None = field(default=None, metadata={"help": "Hub dataset repo id to upload to."})
    private: bool = field(default=True, metadata={"help": "Create the Hub repo as private."})

    def __post_init__(self):
        if self.acoustic_codes_mode not in ACOUSTIC_CODES_MODES:
            raise ValueError(
                f"acoustic_codes_mode must be one of {ACOUSTIC_CODES_MODES}, got {self.acoustic_codes_mode!r}"
            )
        if self.acoustic_codes_mode == "streaming":  # with a builder config's default group until one is built
            window_settings(**self.streaming_settings(GROUP_SIZE / FPS))

    def streaming_settings(self, group_seconds: float) -> dict | None:
        """`SlidingWindowCodes` settings of the streaming mode, blocks of `streaming_hop_seconds` or else of one
        group (`group_seconds`); `None` in offline mode."""
        if self.acoustic_codes_mode != "streaming":
            return None
        return {
            "window_seconds": self.streaming_window_seconds,
            "right_context_seconds": self.streaming_right_context_seconds,
            "hop_seconds": group_seconds if self.streaming_hop_seconds is None else self.streaming_hop_seconds,
        }

    def front_end_settings(self) -> dict:
        keys = ("asr_backend", "asr_checkpoint", "acoustic_codec_type", "acoustic_codec_config",
                "acoustic_codec_checkpoint")
        settings = {key: getattr(self, key) for key in (*keys, "emotion_checkpoint")}
        return {key: value for key, value in settings.items() if value is not None}


class SpeakerFeatures:
    """`datasets.map` function adding the speaker's acoustic/content codes, words and emotion ids to windows.

    The front ends are those of a [`ListenerProcessor`] (its `acoustic_codec`, `asr` and
    `emotion_ids_from_motion`): a processor object, a saved processor directory, or one built on first use in
    each process from `front_ends` (checkpoint settings such as `acoustic_codec_checkpoint`).

    Args:
        processor (`ListenerProcessor` or `str`, *optional*): the processor or its directory.
        front_ends (`dict`, *optional*): processor settings (checkpoint paths) to build or override with.
        media_dir (`str`, *optional*): folder of the audio/video files addressed by each window's `source`.
        acoustic (`bool`): add `acoustic_codes` / `content_codes` from the audio (needs `media_dir`).
        acoustic_streaming (`dict`, *optional*): extract the codes the streaming way with these
            [`SlidingWindowCodes`] settings (`window_seconds`, `right_context_seconds`, `hop_seconds`); `None`
            encodes each window at once.
        transcribe (`bool`): replace `words` / `history_words` by ASR transcripts (needs `media_dir`).
        emotion (`bool`): add `emotion_ids` from the speaker's motion where a window has none.
        recompute_emotion (`bool`): replace existing emotion ids too.
        history_seconds (`float`), group_size (`int`): as in the builder config.

    With `datasets.map(..., num_proc > 1)`, map before running any torch model in the parent process: a
    worker forked from a process whose torch thread pool has run can hang (`prepare_dataset` does so).
    """

    def __init__(
        self,
        processor=None,
        front_ends: dict | None = None,
        media_dir: str | None = None,
        acoustic: bool = False,
        acoustic_streaming: dict | None = None,
        transcribe: bool = False,
        emotion: bool = False,
        recompute_emotion: bool = False,
        history_seconds: float = HISTORY_SECONDS,
        group_size: int = GROUP_SIZE,
    ):
        if (acoustic or transcribe) and media_dir is None:
            raise ValueError("acoustic codes and transcripts need media_dir (the speaker audio)")
        self.processor_path = processor if isinstance(processor, str) else None
        self._processor = None if isinstance(processor, str) else processor
        self.front_ends = dict(front_ends or {})
        self.media_dir = media_dir
        self.acoustic = acoustic
        self.acoustic_streaming = None if acoustic_streaming is None else dict(acoustic_streaming)
        # codes of left context each window is encoded with: one sliding window (checks the settings)
        self._left_codes = 0 if acoustic_streaming is None else window_settings(**self.acoustic_streaming)[0]
        self.transcribe = transcribe
        self.emotion = emotion or recompute_emotion
        self.recompute_emotion = recompute_emotion
        self.history_seconds = history_seconds
        self.group_size = group_size
        settings = {key: value for key, value in vars(self).items() if key != "_processor"}
        if self._processor is not None:
            settings["processor"] = self._processor.to_dict()
        self._fingerprint = json.dumps({**settings, "version": FEATURES_VERSION}, sort_keys=True)

    @property
    def active(self) -> bool:
        return self.acoustic or self.transcribe or self.emotion

    @property
    def fingerprint(self) -> str:
        """The settings as JSON: part of the cache key of the map results (with a processor object, its
        settings stand for its weights)."""
        return self._fingerprint

    def processor(self, fps: int):
        if self._processor is None:
            from ..processing import ListenerProcessor, gpt2_tokenizer_from_tiktoken

            if self.processor_path is not None:
                processor = ListenerProcessor.from_pretrained(self.processor_path)
                for key, value in self.front_ends.items():
                    setattr(processor, key, value)
            else:
                processor = ListenerProcessor(
                    gpt2_tokenizer_from_tiktoken(), group_size=self.group_size, fps=fps, **self.front_ends
                )
            self._processor = processor
        if self._processor.fps != fps or self._processor.group_size != self.group_size:
            raise ValueError(
                f"the processor works at {self._processor.fps} fps in groups of {self._processor.group_size}; the "
                f"data is at {fps} fps in groups of {self.group_size}"
            )
        return self._processor

    def __call__(self, example: dict) -> dict:
        fps = int(example["fps"])
        frames = len(example["speaker_motion"])
        processor = self.processor(fps)
        updates = {}
        if self.acoustic or self.transcribe:
            updates.update(self._audio_features(processor, example, fps, frames))
        if self.emotion and (self.recompute_emotion or not example["emotion_ids"]):
            updates["emotion_ids"] = processor.emotion_ids_from_motion(
                np.asarray(example["speaker_motion"], dtype=np.float32), np.asarray(example["speaker_shape"])
            )
        return updates

    def _audio_features(self, processor, example: dict, fps: int, frames: int) -> dict:
        from ..processing.audio import SAMPLE_RATE

        path = media_path(self.media_dir, example["source"])
        audio = source_audio(path)
        window = cut_window(audio, example["start_frame"], frames, fps, f"{path} (source {example['source']})",
                            self.group_size)
        start = int(example["start_frame"]) / fps
        first, last = round(start * SAMPLE_RATE), round(start * SAMPLE_RATE) + len(window)
        updates = {}
        if self.acoustic:
            content, acoustic = self._codes(processor.acoustic_codec, audio[:first], window)
            updates.update(acoustic_codes=acoustic, content_codes=content)
        if self.transcribe:
            history_start = max(start - self.history_seconds, 0.0)
            words = processor.asr.transcribe(audio[round(history_start * SAMPLE_RATE) : last])
            words, history = window_words(words, start - history_start, frames, fps, self.history_seconds)
            updates.update(words=words, history_words=history)
        return updates

    def _codes(self, codec, before: np.ndarray, window: np.ndarray) -> tuple[list[int], list[int]]:
        """`(content, acoustic)` codes of `window` (`(samples,)`), offline or the streaming way.

        Streaming: the window with up to one sliding window of the audio `before` it as left context (whole
        codes, so that the window's codes keep their offline timing), encoded by `sliding_window_encode`, which
        is what a `SlidingWindowCodes` running since then gives; the left context's codes are dropped.
        """
        if self.acoustic_streaming is None:
            return codec.encode(window)
        left_codes = min(self._left_codes, len(before) // HOP_SAMPLES)
        audio = np.concatenate([before[len(before) - left_codes * HOP_SAMPLES :], window])
        content, acoustic = sliding_window_encode(codec, audio, **self.acoustic_streaming)
        return content[left_codes:], acoustic[left_codes:]


def prepare_dataset(
    builder_class,
    args: PreparationArguments,
    dataset_name: str,
    config_name: str | None = None,
    **config_kwargs,
) -> datasets.DatasetDict:
    """Build, extract features, save, describe and (optionally) upload a dataset. Returns the prepared splits.

    Args:
        builder_class: [`L2LTrevor`] or [`RealTalk`].
        args ([`PreparationArguments`]): paths, front ends, output options.
        dataset_name (`str`): key of the dataset card's source texts (`"l2l_trevor"`, `"realtalk"`, `"synthetic"`).
        config_name (`str`, *optional*), **config_kwargs: the builder config and its settings.
    """
    dataset = build_dataset(
        builder_class, args.data_dir, config_name, cache_dir=args.cache_dir, **config_kwargs
    )
    config = builder_class.BUILDER_CONFIG_CLASS(name=config_name or "default", **config_kwargs)
    has_codec = (
        args.acoustic_codec_type == "prosody" or args.acoustic_codec_checkpoint is not None or args.processor is not None
    )
    extractor = SpeakerFeatures(
        processor=args.processor,
        front_ends=args.front_end_settings(),
        media_dir=args.media_dir,
        acoustic=args.media_dir is not None and has_codec,
        acoustic_streaming=args.streaming_settings(config.group_size / config.fps),
        transcribe=args.transcribe,
        emotion=args.emotion_checkpoint is not None or args.processor is not None,
        recompute_emotion=args.recompute_emotion,
        history_seconds=config.history_seconds,
        group_size=config.group_size,
    )
    preprocessing = [
        f"builder `{builder_class.__name__}` config `{config.name}`: "
        + ", ".join(f"{key}={value}" for key, value in sorted(config_kwargs.items()))
    ]
    if extractor.active:
        features = {}
        for split, part in dataset.items():
            key = (
                f"{part._fingerprint}|{extractor.fingerprint}"  # the built split and the extraction settings
            )
            fingerprint = hashlib.sha256(key.encode()).hexdigest()[:32]
            features[split] = part.map(
                extractor,
                num_proc=args.num_proc,
                features=part.features,
                new_fingerprint=fingerprint,
                desc=f"speaker features ({split})",
            )
        dataset = datasets.DatasetDict(features)
        preprocessing.append(
            f"speaker features from the processor's front ends: {extractor.front_ends or args.processor}"
        )
        if extractor.acoustic:
            preprocessing.append(acoustic_codes_description(extractor.acoustic_streaming))
        if args.transcribe:
            preprocessing.append("words and history words: ASR transcripts with word timestamps")
        if extractor.emotion:
            preprocessing.append(
                "emotion ids: EmotionRecognizer on the speaker's motion, mean per group, argmax"
            )
    save_prepared(dataset, args, dataset_name, preprocessing, config)
    return dataset


def acoustic_codes_description(streaming: dict | None) -> str:
    """The dataset card's line on the acoustic/content codes; `streaming`: the sliding-window settings, if any."""
    text = "acoustic/content codes: SpeechTokenizer quantizers 2/1 of the source audio"
    if streaming is None:
        return text + ", each window encoded at once (offline)"
    return (
        text + ", extracted the streaming way (`sliding_window_encode`: window {window_seconds} s, right context "
        "{right_context_seconds} s, blocks of {hop_seconds:.4g} s; up to one window of the preceding audio as left "
        "context): stream this model's codes with `SlidingWindowCodes` and the same settings"
    ).format(**streaming)


def save_prepared(
    dataset: datasets.DatasetDict, args: PreparationArguments, dataset_name: str, preprocessing, config
):
    """Write the splits (Arrow, and Parquet if asked), `mean.npy` / `std.npy`, `README.md`; push if asked."""
    os.makedirs(args.output_dir, exist_ok=True)
    dataset.save_to_disk(args.output_dir)
    if args.parquet:
        os.makedirs(os.path.join(args.output_dir, "parquet"), exist_ok=True)
        for split, part in dataset.items():
            part.to_parquet(os.path.join(args.output_dir, "parquet", f"{split}.parquet"))
    train = dataset["train"] if "train" in dataset else None
    mean, std = motion_statistics(train, data_dir=args.data_dir)
    np.save(os.path.join(args.output_dir, "mean.npy"), mean)
    np.save(os.path.join(args.output_dir, "std.npy"), std)
    card = build_dataset_card(
        dataset_name,
        {split: len(part) for split, part in dataset.items()},
        preprocessing,
        fps=config.fps,
        group_size=config.group_size,
        history_seconds=config.history_seconds,
        repo_or_path=args.push_to_hub or args.output_dir,
    )
    card.save(os.path.join(args.output_dir, "README.md"))
    if args.push_to_hub:
        dataset.push_to_hub(args.push_to_hub, private=args.private)
        card.push_to_hub(args.push_to_hub, repo_type="dataset")


__all__ = [
    "ACOUSTIC_CODES_MODES",
    "PreparationArguments",
    "SpeakerFeatures",
    "prepare_dataset",
    "save_prepared",
]
