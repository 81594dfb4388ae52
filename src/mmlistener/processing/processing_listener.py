"""ListenerProcessor: speaker clips -> the interleaved token sequence the listener LM reads.

Per clip of `T` frames, cut into groups of `r = group_size` frames (group `g` covers frames
`[r*g, r*(g+1))`), the sequence is (REFERENCE eq. 1)::

    history words | per group g:  words ending in g,  <sa> acoustic </sa>,  [<sc> content </sc>],
                                  <emo> emotion </emo>,  <lr> LR_g </lr>

Which speaker streams appear is the `modalities` setting. Stage "speaker" (eq. 2) drops the
listener blocks and scores words, acoustic, content and emotion tokens; stage "listener" fills the
listener slots with the given codes and scores them.
"""

import json
import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from transformers import BatchEncoding, ProcessorMixin

from ..modeling.configuration_listener import SPECIAL_TOKENS, TokenLayout
from .audio import SAMPLE_RATE, prepare_audio
from .emotion import group_emotion_ids
from .speech_tokenizer import CODE_RATE

MODALITIES = ("words", "acoustic", "content", "emotion")
DEFAULT_MODALITIES = ("words", "acoustic", "emotion")
STAGES = ("listener", "speaker")
IGNORE_INDEX = -100
# Values per frame of speaker motion: FLAME expression (50), head rotation (3), jaw (3), as in `mmlistener.data`.
MOTION_DIM = 56
# Keys of a dataset example (see mmlistener.data) that `encode_examples` reads.
EXAMPLE_KEYS = (
    "words",
    "history_words",
    "acoustic_codes",
    "content_codes",
    "emotion_ids",
    "speaker_motion",
    "speaker_shape",
    "listener_codes",
    "num_frames",
    "audio",
    "sampling_rate",
)
SETTINGS = (
    "num_listener_tokens",
    "num_acoustic_tokens",
    "num_content_tokens",
    "num_emotion_tokens",
    "group_size",
    "fps",
    "modalities",
    "acoustic_rate",
    "history_seconds",
    "max_history_tokens",
    "word_prefix",
    "asr_backend",
    "asr_checkpoint",
    "asr_language",
    "acoustic_codec_config",
    "acoustic_codec_checkpoint",
    "emotion_checkpoint",
)


class ListenerProcessor(ProcessorMixin):
    r"""Builds [`ListenerForCausalLM`] inputs from speaker clips: timed words, acoustic codes, emotion.

    Two entry paths give the same output: pre-extracted features (`words`, `acoustic_codes`,
    `emotion_ids` or `speaker_motion` + `speaker_shape`), or raw `audio` (any sample rate, mono or
    stereo) run through the front ends (ASR with word timestamps, SpeechTokenizer, EmotionRecognizer).

    Args:
        tokenizer ([`PreTrainedTokenizerBase`]): the backbone's text tokenizer (GPT-2 BPE; see
            `mmlistener.processing.gpt2_tokenizer_from_tiktoken` for an offline copy). Its length is the
            text vocabulary size of the [`TokenLayout`].
        num_listener_tokens, num_acoustic_tokens, num_content_tokens, num_emotion_tokens (`int`): block sizes
            of the token layout; must match [`ListenerConfig`] (see `from_listener_config`).
        group_size (`int`, defaults to 8): frames per listener token (r).
        fps (`int`, defaults to 30): motion frame rate.
        modalities (`tuple[str]`, defaults to `("words", "acoustic", "emotion")`): speaker streams in the
            sequence, any of `"words"`, `"acoustic"` (SpeechTokenizer level 2), `"content"` (level 1),
            `"emotion"`. Their order in a group is fixed: words, acoustic, content, emotion.
        acoustic_rate (`int`, defaults to 50): rate of the acoustic and content codes (codes per second).
        history_seconds (`float`, defaults to 3.0): history words are those ending at most this long
            before the first frame.
        max_history_tokens (`int`, defaults to 64): token budget of the history; the oldest words go first.
        word_prefix (`str`, defaults to `" "`): put before each word when tokenising (GPT-2 BPE marks word
            starts with a space).
        asr_backend (`str`, defaults to `"openai-whisper"`): `"openai-whisper"` or `"faster-whisper"`.
        asr_checkpoint (`str`, *optional*): ASR weights (local path or model name), loaded on first raw use.
        asr_language (`str`, *optional*, defaults to `"en"`): spoken language (`None` detects it).
        acoustic_codec_config, acoustic_codec_checkpoint (`str`, *optional*): SpeechTokenizer `config.json`
            and weights, loaded on first raw use.
        emotion_checkpoint (`str`, *optional*): an [`EmotionRecognizer`] directory or Hub id, loaded on first
            use (deriving emotion ids from speaker motion).
        asr, acoustic_codec, emotion_recognizer (*optional*): front-end objects to use directly (an object
            with `transcribe(audio) -> words`, a `SpeechTokenizerCodes`, an `EmotionRecognizer`). They are not
            saved by `save_pretrained`; their checkpoint locations are.

    Example:

    ```python
    >>> from mmlistener import ListenerProcessor
    >>> from mmlistener.processing import gpt2_tokenizer_from_tiktoken
    >>> processor = ListenerProcessor(gpt2_tokenizer_from_tiktoken())
    >>> batch = processor(
    ...     words=[{"text": "hello", "start": 0.1, "end": 0.4}],
    ...     acoustic_codes=[7] * 50,
    ...     emotion_ids=[1, 1, 1, 1],
    ...     num_frames=32,
    ...     return_tensors="pt",
    ... )
    >>> batch["input_ids"].shape, int(batch["listener_slot_mask"].sum())
    (torch.Size([1, 83]), 4)

    ```
    """

    def __init__(
        self,
        tokenizer=None,
        num_listener_tokens: int = 256,
        num_acoustic_tokens: int = 1024,
        num_content_tokens: int = 1024,
        num_emotion_tokens: int = 8,
        group_size: int = 8,
        fps: int = 30,
        modalities: Sequence[str] = DEFAULT_MODALITIES,
        acoustic_rate: int = CODE_RATE,
        history_seconds: float = 3.0,
        max_history_tokens: int = 64,
        word_prefix: str = " ",
        asr_backend: str = "openai-whisper",
        asr_checkpoint: str | None = None,
        asr_language: str | None = "en",
        acoustic_codec_config: str | None = None,
        acoustic_codec_checkpoint: str | None = None,
        emotion_checkpoint: str | None = None,
        asr=None,
        acoustic_codec=None,
        emotion_recognizer=None,
    ):
        super().__init__(tokenizer)
        modalities = tuple(modalities)
        unknown = [name for name in modalities if name not in MODALITIES]
        if unknown or not modalities:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {modalities}")
        for name, value in (("group_size", group_size), ("fps", fps), ("acoustic_rate", acoustic_rate)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if history_seconds < 0 or max_history_tokens < 0:
            raise ValueError("history_seconds and max_history_tokens must be >= 0")
        self.num_listener_tokens = num_listener_tokens
        self.num_acoustic_tokens = num_acoustic_tokens
        self.num_content_tokens = num_content_tokens
        self.num_emotion_tokens = num_emotion_tokens
        self.group_size = group_size
        self.fps = fps
        self.modalities = tuple(name for name in MODALITIES if name in modalities)
        self.acoustic_rate = acoustic_rate
        self.history_seconds = float(history_seconds)
        self.max_history_tokens = max_history_tokens
        self.word_prefix = word_prefix
        self.asr_backend = asr_backend
        self.asr_checkpoint = asr_checkpoint
        self.asr_language = asr_language
        self.acoustic_codec_config = acoustic_codec_config
        self.acoustic_codec_checkpoint = acoustic_codec_checkpoint
        self.emotion_checkpoint = emotion_checkpoint
        self._asr = asr
        self._acoustic_codec = acoustic_codec
        self._emotion_recognizer = emotion_recognizer
        self.layout = TokenLayout(
            text_vocab_size=len(tokenizer),
            num_listener_tokens=num_listener_tokens,
            num_acoustic_tokens=num_acoustic_tokens,
            num_content_tokens=num_content_tokens,
            num_emotion_tokens=num_emotion_tokens,
        )
        self._special = {name: self.layout.token_id(name) for name in ("<sa>", "</sa>", "<sc>", "</sc>")}
        self._special.update({name: self.layout.token_id(name) for name in ("<emo>", "</emo>", "<lr>", "</lr>")})

    @classmethod
    def from_listener_config(cls, tokenizer, config, **kwargs) -> "ListenerProcessor":
        """A processor whose layout matches `config` (a [`ListenerConfig`]); checks the text vocabulary size."""
        if len(tokenizer) != config.backbone_config.vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the backbone's vocab_size is "
                f"{config.backbone_config.vocab_size}: they must be the same text vocabulary"
            )
        names = ("num_listener_tokens", "num_acoustic_tokens", "num_content_tokens", "num_emotion_tokens")
        settings = {name: getattr(config, name) for name in (*names, "group_size", "fps")}
        return cls(tokenizer, **settings, **kwargs)

    # ----------------------------------------------------------------------------------------------
    # serialisation: settings and checkpoint locations go to processor_config.json, the tokenizer
    # to its own files; front-end objects are not saved (their locations are).

    def to_dict(self) -> dict:
        output = {name: getattr(self, name) for name in SETTINGS}
        output["modalities"] = list(self.modalities)
        output["processor_class"] = self.__class__.__name__
        return output

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    # ----------------------------------------------------------------------------------------------
    # front ends, loaded on first use

    @property
    def asr(self):
        if self._asr is None:
            if self.asr_checkpoint is None:
                raise ValueError("raw audio without `words` needs an ASR: set asr_checkpoint or pass asr=")
            from .asr import load_asr

            self._asr = load_asr(self.asr_backend, self.asr_checkpoint, language=self.asr_language)
        return self._asr

    @property
    def acoustic_codec(self):
        if self._acoustic_codec is None:
            if self.acoustic_codec_config is None or self.acoustic_codec_checkpoint is None:
                raise ValueError(
                    "raw audio without acoustic codes needs SpeechTokenizer: set acoustic_codec_config and "
                    "acoustic_codec_checkpoint, or pass acoustic_codec="
                )
            from .speech_tokenizer import SpeechTokenizerCodes

            self._acoustic_codec = SpeechTokenizerCodes.from_checkpoint(
                self.acoustic_codec_config, self.acoustic_codec_checkpoint
            )
        return self._acoustic_codec

    @property
    def emotion_recognizer(self):
        if self._emotion_recognizer is None:
            if self.emotion_checkpoint is None:
                raise ValueError(
                    "the emotion modality needs `emotion_ids`, or `speaker_motion` + `speaker_shape` with an "
                    "emotion recogniser: set emotion_checkpoint or pass emotion_recognizer="
                )
            from ..modeling.modeling_emotion import EmotionRecognizer

            self._emotion_recognizer = EmotionRecognizer.from_pretrained(self.emotion_checkpoint).eval()
        return self._emotion_recognizer

    # ----------------------------------------------------------------------------------------------

    @property
    def group_seconds(self) -> float:
        return self.group_size / self.fps

    def num_groups(self, num_frames: int) -> int:
        """Listener tokens of a clip of `num_frames` frames (a final partial group counts)."""
        return math.ceil(num_frames / self.group_size)

    def __call__(
        self,
        words=None,
        history_words=None,
        acoustic_codes=None,
        content_codes=None,
        emotion_ids=None,
        speaker_motion=None,
        speaker_shape=None,
        audio=None,
        sampling_rate=None,
        num_frames=None,
        listener_codes=None,
        stage: str = "listener",
        max_length: int | None = None,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        r"""Build model inputs for one clip or a batch of clips (per-sample lists).

        Args:
            words (`list[dict]`): `{"text", "start", "end"}` in seconds from the first frame. A word belongs to
                the group holding frame `ceil(end * fps)`; words ending after the clip are dropped, with a warning
                for those that also start after its end (an error when every word does: times in milliseconds?); a
                word ending before the first frame is an error (pass it in `history_words`). With raw `audio` and
                no `words`, the ASR transcribes the clip.
            history_words (`list[dict]`, *optional*): words before the clip (times <= 0); those ending within
                `history_seconds` are kept, trimmed from the oldest to `max_history_tokens`.
            acoustic_codes, content_codes (`list[int]`, *optional*): SpeechTokenizer level-2 / level-1 codes at
                `acoustic_rate` from the first frame; code `k` ends at `(k + 1) / rate` and, like a word, belongs to
                the group holding frame `ceil(end * fps)`.
                A count more than one group's worth away from `num_frames / fps * acoustic_rate` is an error (codes
                at another rate or of another clip); codes past the clip are dropped; none or an empty list gives
                every group an empty `<sa></sa>`.
            emotion_ids (`list[int]`, *optional*): speaker emotion, one per group; derived from `speaker_motion`
                `(T, 56)` and `speaker_shape` `(100,)` with the emotion recogniser when absent or empty.
            audio (`np.ndarray`, *optional*): speaker audio from the first frame, `(samples,)` or 2-D stereo,
                with its `sampling_rate`. Resampled to 16 kHz; trimmed to the clip; if shorter than the clip by
                less than one group it is padded with silence, by more it is an error.
            num_frames (`int`, *optional*): clip length; defaults to the length of `speaker_motion`, else
                `len(listener_codes) * group_size`, else `len(emotion_ids) * group_size`.
            listener_codes (`list[int]`, *optional*): VQ-VAE codes of the listener, one per group; fill the
                listener slots and give stage-2 labels.
            stage (`str`, defaults to `"listener"`): `"listener"` (full sequence) or `"speaker"` (eq. 2: no
                listener blocks; labels on word, acoustic, content and emotion tokens).
            max_length (`int`, *optional*): longest training sequence allowed; a longer one is an error.
            return_tensors (`str`, *optional*): `"pt"` or `"np"`; lists when `None`.

        Returns:
            [`BatchEncoding`] with `input_ids (B, L)` (right-padded with `layout.pad_token_id`),
            `attention_mask (B, L)`, `group_ids (B, L)` (-1 for history and padding), `listener_slot_mask (B, L)`
            (True at each listener token; all False for stage "speaker") and, when training, `labels (B, L)`
            (-100 where not scored; aligned with `input_ids`, the model shifts).
        """
        inputs = {
            "words": words,
            "history_words": history_words,
            "acoustic_codes": acoustic_codes,
            "content_codes": content_codes,
            "emotion_ids": emotion_ids,
            "speaker_motion": speaker_motion,
            "speaker_shape": speaker_shape,
            "audio": audio,
            "sampling_rate": sampling_rate,
            "num_frames": num_frames,
            "listener_codes": listener_codes,
        }
        samples = _split_batch(inputs)
        return self._encode_samples(samples, stage=stage, max_length=max_length, return_tensors=return_tensors)

    def encode_examples(
        self,
        examples: Sequence[dict],
        stage: str = "listener",
        max_length: int | None = None,
        return_tensors: str | None = "pt",
    ) -> BatchEncoding:
        """Model inputs for a list of dataset examples (the `mmlistener.data` format): a collator's core.

        Keys other than those the processor reads (`listener_motion`, `source`, ...) are ignored; an
        example's `fps`, when present, must equal the processor's.
        """
        samples = []
        for index, example in enumerate(examples):
            if "fps" in example and int(example["fps"]) != self.fps:
                raise ValueError(f"example {index} is at {example['fps']} fps but the processor expects {self.fps}")
            samples.append({key: example.get(key) for key in EXAMPLE_KEYS})
        return self._encode_samples(samples, stage=stage, max_length=max_length, return_tensors=return_tensors)

    # ----------------------------------------------------------------------------------------------

    def _encode_samples(self, samples, stage, max_length, return_tensors) -> BatchEncoding:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        if not samples:
            raise ValueError("no sample to encode")
        with_labels = stage == "speaker" or any(sample.get("listener_codes") is not None for sample in samples)
        if with_labels and stage == "listener" and any(s.get("listener_codes") is None for s in samples):
            raise ValueError("listener_codes must be given for every sample of a batch or for none")
        rows = []
        for index, sample in enumerate(samples):
            try:
                rows.append(self._encode_one(sample, stage))
            except ValueError as error:
                raise ValueError(f"sample {index}: {error}") from None
        lengths = [len(row[0]) for row in rows]
        if with_labels and max_length is not None and max(lengths) > max_length:
            index = int(np.argmax(lengths))
            raise ValueError(
                f"sample {index} makes {lengths[index]} tokens, more than max_length={max_length}: shorten the "
                "window, lower max_history_tokens or drop a modality"
            )
        return self._pad(rows, lengths, with_labels, return_tensors)

    def _pad(self, rows, lengths, with_labels, return_tensors) -> BatchEncoding:
        batch, longest = len(rows), max(lengths)
        input_ids = np.full((batch, longest), self.layout.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((batch, longest), dtype=np.int64)
        group_ids = np.full((batch, longest), -1, dtype=np.int64)
        slot_mask = np.zeros((batch, longest), dtype=bool)
        labels = np.full((batch, longest), IGNORE_INDEX, dtype=np.int64)
        for i, (ids, groups, slots, scored) in enumerate(rows):
            n = len(ids)
            input_ids[i, :n] = ids
            attention_mask[i, :n] = 1
            group_ids[i, :n] = groups
            slot_mask[i, :n] = slots
            labels[i, :n] = np.where(scored, ids, IGNORE_INDEX)
        data = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "group_ids": group_ids,
            "listener_slot_mask": slot_mask,
        }
        if with_labels:
            data["labels"] = labels
        if return_tensors == "pt":
            data = {key: torch.from_numpy(value) for key, value in data.items()}
        elif return_tensors is None:
            data = {key: value.tolist() for key, value in data.items()}
        elif return_tensors != "np":
            raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
        return BatchEncoding(data)

    def _encode_one(self, sample: dict, stage: str):
        """One clip -> (ids, group ids, listener-slot flags, scored flags), all numpy arrays."""
        sample = dict(sample)
        if sample.get("speaker_motion") is not None:
            sample["speaker_motion"] = _checked_motion(sample["speaker_motion"])
        if sample.get("audio") is not None:
            sample["audio"] = prepare_audio(sample["audio"], sample.get("sampling_rate"))
        num_frames = self._num_frames(sample)
        num_groups = self._resolve_groups(sample, num_frames)
        if sample.get("audio") is not None:
            self._run_audio_front_ends(sample, num_frames)
        streams = {}
        if "words" in self.modalities:
            window_words, history = self._split_words(sample, num_frames, num_groups)
        else:
            window_words, history = [[] for _ in range(num_groups)], []
        if "acoustic" in self.modalities:
            streams["acoustic"] = self._group_codes(sample.get("acoustic_codes"), num_frames, num_groups, "acoustic")
        if "content" in self.modalities:
            streams["content"] = self._group_codes(sample.get("content_codes"), num_frames, num_groups, "content")
        if "emotion" in self.modalities:
            streams["emotion"] = self._emotion_ids(sample, num_frames, num_groups)
        listener_codes = sample.get("listener_codes") if stage == "listener" else None
        return self._assemble(history, window_words, streams, listener_codes, num_groups, stage)

    def _num_frames(self, sample) -> int:
        if sample.get("num_frames") is not None:
            num_frames = _frame_count(sample["num_frames"])
        elif sample.get("speaker_motion") is not None:
            num_frames = len(sample["speaker_motion"])
        elif sample.get("listener_codes") is not None:
            num_frames = len(sample["listener_codes"]) * self.group_size
        elif sample.get("emotion_ids") is not None and len(sample["emotion_ids"]):
            num_frames = len(sample["emotion_ids"]) * self.group_size
        elif sample.get("audio") is not None:
            num_frames = len(sample["audio"]) * self.fps // SAMPLE_RATE
        else:
            raise ValueError("cannot tell the clip length: pass num_frames (or speaker_motion / listener_codes)")
        if num_frames <= 0:
            raise ValueError(f"the clip must have at least one frame, got num_frames={num_frames}")
        return num_frames

    def _resolve_groups(self, sample, num_frames: int) -> int:
        codes = sample.get("listener_codes")
        if codes is None:
            return self.num_groups(num_frames)
        codes = _as_ids(codes, "listener_codes")
        allowed = {num_frames // self.group_size, self.num_groups(num_frames)} - {0}
        if len(codes) not in allowed:
            raise ValueError(
                f"listener_codes: {len(codes)} listener codes for {num_frames} frames; expected {sorted(allowed)} "
                f"(one per group of {self.group_size} frames)"
            )
        if len(codes) and (codes.min() < 0 or codes.max() >= self.num_listener_tokens):
            raise ValueError(
                f"listener_codes must lie in [0, {self.num_listener_tokens}), got [{codes.min()}, {codes.max()}]"
            )
        sample["listener_codes"] = codes
        return len(codes)

    # -- raw path ----------------------------------------------------------------------------------

    def _run_audio_front_ends(self, sample, num_frames: int) -> None:
        """Words and codes of the clip's audio (16 kHz mono) for the streams not given as features."""
        audio = sample["audio"]
        clip_samples = round(num_frames / self.fps * SAMPLE_RATE)
        missing = clip_samples - len(audio)
        if missing > self.group_seconds * SAMPLE_RATE:
            raise ValueError(
                f"audio lasts {len(audio) / SAMPLE_RATE:.2f} s but the motion lasts {num_frames / self.fps:.2f} s "
                f"({num_frames} frames at {self.fps} fps); check sampling_rate"
            )
        audio = np.pad(audio, (0, max(missing, 0)))[:clip_samples]
        if sample.get("words") is None and "words" in self.modalities:
            sample["words"] = self.asr.transcribe(audio)
        wanted = [name for name in ("acoustic", "content") if name in self.modalities]
        if any(sample.get(f"{name}_codes") is None for name in wanted):
            codes = dict(zip(("content", "acoustic"), self.acoustic_codec.encode(audio)))
            for name in wanted:
                if sample.get(f"{name}_codes") is None:
                    sample[f"{name}_codes"] = codes[name]

    # -- words -------------------------------------------------------------------------------------

    def _word_times(self, words, name: str) -> list[tuple[str, float, float]]:
        """`(text, start, end)` of each non-blank word, sorted by end; `start` is `end` when not given."""
        if isinstance(words, dict):  # columnar form {"text": [...], "end": [...]} (a datasets Sequence)
            words = [dict(zip(words, values)) for values in zip(*words.values())]
        parsed = []
        for word in () if words is None else words:
            if not isinstance(word, Mapping) or "text" not in word or "end" not in word:
                raise ValueError(f"each of {name} needs 'text' and 'end' (seconds), got {word!r}")
            end = _seconds(word, "end", name)
            start = end if word.get("start") is None else _seconds(word, "start", name)
            if start > end:
                raise ValueError(f"{name} has a word that starts after it ends: {word}")
            text = str(word["text"]).strip()
            if text:
                parsed.append((text, start, end))
        parsed.sort(key=lambda item: item[2])
        return parsed

    def _check_words_after_the_clip(self, words, frames: list[int], num_frames: int) -> None:
        """Error when every word starts after the clip's end (times in ms?); a warning when some do.

        A word that starts inside the clip and ends after it (the last word of a cut) is dropped without notice.
        """
        clip_end = num_frames / self.fps
        late = [(text, start) for (text, start, _), frame in zip(words, frames) if frame >= num_frames
                and start >= clip_end - 1e-6]
        if not late:
            return
        text, start = min(late, key=lambda item: item[1])
        where = f"the clip's end ({clip_end:.2f} s: {num_frames} frames at {self.fps} fps)"
        if len(late) == len(words):
            raise ValueError(
                f"words: every word starts after {where}, the first {text!r} at {start:.3f} s; word times must "
                "be seconds from the clip's first frame (milliseconds?)"
            )
        warnings.warn(
            f"words: {len(late)} of {len(words)} words start after {where} and are dropped, the first "
            f"{text!r} at {start:.3f} s",
            stacklevel=6,  # the caller of __call__ or encode_examples
        )

    def _tokenize_words(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer([self.word_prefix + text for text in texts], add_special_tokens=False)["input_ids"]

    def _split_words(self, sample, num_frames: int, num_groups: int):
        """Token ids of the words of each group, and of the history (already trimmed)."""
        words = self._word_times(sample.get("words"), "words")
        history = self._word_times(sample.get("history_words"), "history_words")
        epsilon = 1e-6
        for text, _, end in words:
            if end < -epsilon:
                raise ValueError(
                    f"words: {text!r} ends at {end:.3f} s, before the clip's first frame: pass it in history_words"
                )
        for text, _, end in history:
            if end > epsilon:
                raise ValueError(f"history_words: {text!r} ends at {end:.3f} s, after the clip's first frame")
        history = [(text, end) for text, _, end in history if end >= -self.history_seconds - epsilon]
        frames = [math.ceil(end * self.fps - epsilon) for _, _, end in words]
        # a word ending exactly on the clip's last boundary belongs to the last frame
        frames = [num_frames - 1 if frame == num_frames else frame for frame in frames]
        self._check_words_after_the_clip(words, frames, num_frames)
        kept = [(text, frame // self.group_size) for (text, _, _), frame in zip(words, frames) if frame < num_frames]
        kept = [(text, group) for text, group in kept if group < num_groups]
        token_ids = self._tokenize_words([text for text, _ in history] + [text for text, _ in kept])
        history_ids, window_ids = token_ids[: len(history)], token_ids[len(history) :]
        per_group: list[list[int]] = [[] for _ in range(num_groups)]
        for (_, group), ids in zip(kept, window_ids):
            per_group[group].extend(ids)
        budget, trimmed = self.max_history_tokens, []
        for ids in reversed(history_ids):
            if len(ids) > budget:
                break
            trimmed.append(ids)
            budget -= len(ids)
        history_tokens = [token for ids in reversed(trimmed) for token in ids]
        return per_group, history_tokens

    # -- codes and emotion -------------------------------------------------------------------------

    def _group_codes(self, codes, num_frames: int, num_groups: int, name: str) -> list[np.ndarray]:
        """Token ids of the `{name}_codes` of each group; none given (or an empty list) gives empty blocks.

        A code count farther than one group's worth from the clip's (`num_frames / fps * acoustic_rate`) is an
        error: codes at another rate or from another clip. Codes past the clip (within that margin) are dropped.
        """
        size = self.num_acoustic_tokens if name == "acoustic" else self.num_content_tokens
        offset = self.layout.acoustic_offset if name == "acoustic" else self.layout.content_offset
        codes = _as_ids(codes, f"{name}_codes")
        if len(codes) and (codes.min() < 0 or codes.max() >= size):
            raise ValueError(f"{name}_codes must lie in [0, {size}), got [{codes.min()}, {codes.max()}]")
        expected, margin = num_frames / self.fps * self.acoustic_rate, self.group_seconds * self.acoustic_rate
        if len(codes) and abs(len(codes) - expected) > margin:
            raise ValueError(
                f"{name}_codes has {len(codes)} codes but the clip needs {expected:.1f} ({num_frames} frames at "
                f"{self.fps} fps = {num_frames / self.fps:.2f} s at {self.acoustic_rate} codes/s); more than one "
                f"group ({margin:.1f} codes) apart means codes at another rate or from another clip"
            )
        # Code k covers [k, k + 1) / rate seconds. Like a word, it enters the group holding frame ceil(end * fps),
        # the first frame that starts once it is complete: no stream looks ahead of another.
        frames = -((-(np.arange(len(codes)) + 1) * self.fps) // self.acoustic_rate)
        frames[frames == num_frames] = num_frames - 1  # a code ending on the clip's last boundary
        kept = frames < num_frames
        groups, ids = frames[kept] // self.group_size, codes[kept] + offset
        bounds = np.searchsorted(groups, np.arange(num_groups + 1))
        return [ids[bounds[g] : bounds[g + 1]] for g in range(num_groups)]

    def _emotion_ids(self, sample, num_frames: int, num_groups: int) -> np.ndarray:
        emotion = sample.get("emotion_ids")
        if emotion is None or len(emotion) == 0:
            motion, shape = sample.get("speaker_motion"), sample.get("speaker_shape")
            if motion is None or shape is None:
                raise ValueError(
                    "the emotion modality needs emotion_ids, or speaker_motion and speaker_shape to derive them"
                )
            emotion = self.emotion_ids_from_motion(motion, shape, num_groups=num_groups)
        emotion = _as_ids(emotion, "emotion_ids")
        if not num_groups <= len(emotion) <= self.num_groups(num_frames):
            raise ValueError(
                f"emotion_ids: {len(emotion)} emotion ids for {num_groups} groups; need one per group of {self.group_size} "
                f"frames ({num_frames} frames)"
            )
        emotion = emotion[:num_groups]
        if len(emotion) and (emotion.min() < 0 or emotion.max() >= self.num_emotion_tokens):
            raise ValueError(
                f"emotion_ids must lie in [0, {self.num_emotion_tokens}), got [{emotion.min()}, {emotion.max()}]"
            )
        return emotion + self.layout.emotion_offset

    def emotion_ids_from_motion(self, speaker_motion, speaker_shape, num_groups: int | None = None) -> list[int]:
        """Emotion id per group of `speaker_motion (T, 56)` (raw values) with `speaker_shape (100,)`.

        Per-frame class probabilities from the emotion recogniser, averaged over each group, argmax.
        """
        motion = _checked_motion(speaker_motion)
        shape = np.asarray(speaker_shape, dtype=np.float32).reshape(-1)
        if num_groups is not None:
            if num_groups * self.group_size > len(motion) + self.group_size - 1:
                raise ValueError(f"speaker_motion has {len(motion)} frames, too few for {num_groups} groups")
            motion = motion[: num_groups * self.group_size]
        probabilities = self.emotion_recognizer.predict_from_motion(motion, shape).probabilities
        return group_emotion_ids(probabilities.cpu().numpy(), self.group_size, num_groups)

    # -- assembly ----------------------------------------------------------------------------------

    def _assemble(self, history, window_words, streams, listener_codes, num_groups: int, stage: str):
        special = self._special
        score_speaker = stage == "speaker"
        emotion = streams["emotion"].tolist() if "emotion" in streams else None
        blocks = {name: [ids.tolist() for ids in streams[name]] for name in ("acoustic", "content") if name in streams}
        ids: list[int] = []
        pieces: list[tuple[int, int, bool, bool]] = []  # (length, group, scored, listener slot) per piece

        def add(tokens: list[int], group: int, scored: bool, slot: bool = False):
            ids.extend(tokens)
            pieces.append((len(tokens), group, scored, slot))

        add(history, -1, score_speaker)
        for g in range(num_groups):
            add(window_words[g], g, score_speaker)
            for name, start, end in (("acoustic", "<sa>", "</sa>"), ("content", "<sc>", "</sc>")):
                if name in blocks:
                    add([special[start]], g, False)
                    add(blocks[name][g], g, score_speaker)
                    add([special[end]], g, False)
            if emotion is not None:
                add([special["<emo>"]], g, False)
                add([emotion[g]], g, score_speaker)
                add([special["</emo>"]], g, False)
            if stage == "listener":
                code = 0 if listener_codes is None else int(listener_codes[g])
                add([special["<lr>"]], g, False)
                add([self.layout.listener_offset + code], g, listener_codes is not None, slot=True)
                add([special["</lr>"]], g, False)
        lengths, groups, scored, slots = (np.asarray(column) for column in zip(*pieces))
        return (
            np.asarray(ids, dtype=np.int64),
            np.repeat(groups.astype(np.int64), lengths),
            np.repeat(slots.astype(bool), lengths),
            np.repeat(scored.astype(bool), lengths),
        )

    # ----------------------------------------------------------------------------------------------

    def sequence_length_report(self, encoding, config_or_model) -> dict:
        """How the longest sequence of `encoding` compares with a model's context.

        Args:
            encoding: a processor output (`input_ids` or `attention_mask` present).
            config_or_model: a [`ListenerConfig`], a [`ListenerForCausalLM`], or any config with
                `max_position_embeddings` / `n_positions`.

        Returns:
            `dict` with `longest`, `max_position_embeddings`, `fits` (bool) and `overflow` (tokens too many).
        """
        config = getattr(config_or_model, "config", config_or_model)
        context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        if context is None:
            raise ValueError(f"cannot tell the context length of {type(config).__name__}")
        mask = encoding["attention_mask"]
        longest = int(np.asarray(mask.sum(-1) if hasattr(mask, "sum") else [sum(row) for row in mask]).max())
        return {
            "longest": longest,
            "max_position_embeddings": int(context),
            "fits": longest <= int(context),
            "overflow": max(0, longest - int(context)),
        }

    def decode(self, token_ids) -> str:
        """Readable form of one sequence: text, then `<A17>`, `<C3>`, `<E:1>`, `<L42>` for codes; no padding."""
        ids = np.asarray(token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids, dtype=np.int64)
        layout, parts, text = self.layout, [], []
        blocks = (
            (layout.listener_offset, layout.num_listener_tokens, "L"),
            (layout.acoustic_offset, layout.num_acoustic_tokens, "A"),
            (layout.content_offset, layout.num_content_tokens, "C"),
            (layout.emotion_offset, layout.num_emotion_tokens, "E:"),
        )
        for token in ids.tolist():
            if token == layout.pad_token_id:
                continue
            if token < layout.text_vocab_size:
                text.append(token)
                continue
            if text:
                parts.append(self.tokenizer.decode(text).strip())
                text = []
            for offset, size, tag in blocks:
                if offset <= token < offset + size:
                    parts.append(f"<{tag}{token - offset}>")
                    break
            else:
                parts.append(_special_name(layout, token))
        if text:
            parts.append(self.tokenizer.decode(text).strip())
        return " ".join(part for part in parts if part)

    def batch_decode(self, sequences) -> list[str]:
        """[`decode`] of each row of `sequences (B, L)` (padding stripped)."""
        return [self.decode(row) for row in sequences]

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "group_ids", "listener_slot_mask"]


def _checked_motion(motion) -> np.ndarray:
    """`speaker_motion` as float32 `(T, 56)` with `T > 0` and finite values, or a ValueError saying what is wrong."""
    try:
        motion = np.asarray(motion, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"speaker_motion must be numbers of shape (T, {MOTION_DIM}): {error}") from None
    if motion.ndim != 2 or len(motion) == 0 or motion.shape[1] != MOTION_DIM:
        raise ValueError(
            f"speaker_motion must have shape (T, {MOTION_DIM}) with T > 0 (FLAME expression 50, head rotation 3, "
            f"jaw 3 per frame), got {motion.shape}"
        )
    if not np.isfinite(motion).all():
        raise ValueError("speaker_motion contains NaN or infinite values")
    return motion


def _frame_count(value) -> int:
    """`num_frames` as an int: an integer, or a float with a whole value; a ValueError otherwise."""
    whole_float = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if whole_float or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
        return int(value)
    raise ValueError(f"num_frames must be a whole number of frames, got {value!r}")


def _seconds(word: Mapping, key: str, name: str) -> float:
    """`word[key]` as finite seconds, or a ValueError naming `name` (words or history_words) and the word."""
    try:
        value = float(word[key])
    except (TypeError, ValueError):
        raise ValueError(f"{name} has a word whose {key!r} is not a number of seconds: {word}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} has a word with a non-finite {key} time: {word}")
    return value


def _as_ids(values, name: str) -> np.ndarray:
    """`values` (a flat list of integers, or of floats with whole values) as int64; a ValueError naming `name`."""
    try:
        ids = np.asarray([] if values is None else values)
    except ValueError as error:  # ragged nesting
        raise ValueError(f"{name} must be a flat list of integers: {error}") from None
    if ids.ndim != 1:
        raise ValueError(f"{name} must be a flat list of integers, got shape {ids.shape}")
    whole_floats = ids.dtype.kind == "f" and np.isfinite(ids).all() and (ids == np.round(ids)).all()
    if len(ids) and ids.dtype.kind not in "iu" and not whole_floats:
        raise ValueError(f"{name} must be integers, got {ids.dtype} values such as {ids[0]!r}")
    return ids.astype(np.int64)


def _special_name(layout: TokenLayout, token: int) -> str:
    index = token - layout.special_offset
    if 0 <= index < len(SPECIAL_TOKENS):
        return SPECIAL_TOKENS[index]
    raise ValueError(f"token id {token} is outside the vocabulary of {layout.vocab_size}")


# --------------------------------------------------------------------------------------------------
# single clip or batch?


def _is_batched(name: str, value) -> bool | None:
    """True / False when `value` tells whether the call is batched, None when it cannot tell."""
    if value is None:
        return None
    if name in ("num_frames", "sampling_rate"):
        return not np.isscalar(value)
    item_ndim = {"speaker_motion": 2, "speaker_shape": 1, "audio": 1}.get(name)
    if item_ndim is not None:
        if isinstance(value, (list, tuple)):
            return len(value) > 0 and np.ndim(value[0]) >= item_ndim
        if name == "audio":
            return None  # an array may be stereo (2-D): batches of audio are lists
        return np.ndim(value) == item_ndim + 1
    if name in ("words", "history_words") and isinstance(value, dict):
        return False  # one clip's words in columnar form
    if len(value) == 0:
        return None
    first = value[0]
    if name in ("words", "history_words"):
        return not (isinstance(first, dict) and np.ndim(first.get("text")) == 0)
    return np.ndim(first) > 0


def _split_batch(inputs: dict) -> list[dict]:
    verdicts = {name: _is_batched(name, value) for name, value in inputs.items()}
    decided = {verdict for verdict in verdicts.values() if verdict is not None}
    if len(decided) > 1:
        batched = sorted(name for name, verdict in verdicts.items() if verdict)
        single = sorted(name for name, verdict in verdicts.items() if verdict is False)
        raise ValueError(f"mixed single and batched inputs: {batched} look batched, {single} look single")
    if decided != {True}:
        return [inputs]
    sizes = {name: len(value) for name, value in inputs.items() if value is not None and verdicts[name] is not False}
    sizes = {name: size for name, size in sizes.items() if verdicts[name] or size}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batched inputs have different lengths: {sizes}")
    batch = next(iter(sizes.values()))
    return [{name: (None if value is None else value[i]) for name, value in inputs.items()} for i in range(batch)]


__all__ = ["ListenerProcessor", "MODALITIES", "DEFAULT_MODALITIES", "IGNORE_INDEX"]
