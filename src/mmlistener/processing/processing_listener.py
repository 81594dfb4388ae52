"""ListenerProcessor: speaker clips -> the interleaved token sequence the listener LM reads.

Per clip of `T` frames, cut into groups of `r = group_size` frames (group `g` covers frames
`[r*g, r*(g+1))`), the sequence is (REFERENCE eq. 1)::

    history words | per group g:  words ending in g,  <sa> acoustic </sa>,  [<sc> content </sc>],
                                  <emo> emotion </emo>,  <lr> LR_g </lr>

Which speaker streams appear is the `modalities` setting. Stage "speaker" (eq. 2) drops the
listener blocks and scores words, acoustic, content and emotion tokens; stage "listener" fills the
listener slots with the given codes and scores them.

This file turns a clip's inputs into per-group pieces; each other job has its own file: `interleaving.py` (the
order of a group's tokens), `word_timing.py` (which group a timed word enters, the history kept), `streams.py`
(codes and emotion ids checked and cut into groups), `batching.py` (one clip or a batch; right padding) and
`decoding.py` (ids back to readable text, lengths against a context).

A live stream builds the same sequence group by group through the public pieces of this class:
`tokenize_words`, `history_tokens` and `group_tokens` (the ones `__call__` uses), so that streamed codes equal
offline `generate`'s.
"""

import json
import math
from collections.abc import Sequence

import numpy as np
from transformers import BatchEncoding, ProcessorMixin

from .audio import SAMPLE_RATE, prepare_audio
from .batching import IGNORE_INDEX, pad_rows, split_batch
from .constants import FPS, GROUP_SIZE, HISTORY_SECONDS
from .decoding import decode_tokens, sequence_length_report
from .emotion import group_emotion_ids
from .interleaving import STAGES, GroupTokens, group_tokens, join_groups
from .remote_code import write_modeling_files
from .speech_tokenizer import CODE_RATE
from .streams import as_ids, checked_emotion_ids, checked_motion, group_codes
from .token_layout import TokenLayout
from .word_timing import check_words_after_the_clip, recent_history, trim_history, word_frames, word_times

MODALITIES = ("words", "acoustic", "content", "emotion")
DEFAULT_MODALITIES = ("words", "acoustic", "emotion")
CODE_STREAMS = ("acoustic", "content")  # the modalities that are codes at `acoustic_rate`
ACOUSTIC_CODEC_TYPES = ("speechtokenizer", "prosody")
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
    "acoustic_codec_type",
    "acoustic_codec_config",
    "acoustic_codec_checkpoint",
    "emotion_checkpoint",
    "emotion_without_face",
)
EMOTION_WITHOUT_FACE = ("neutral", "omit")


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
        acoustic_codec_type (`str`, defaults to `"speechtokenizer"`): what makes the acoustic and content codes of
            raw audio: `"speechtokenizer"` (the paper's; needs its checkpoint) or `"prosody"` (the weight-free
            [`ProsodyTokenizer`]: loudness, voicing, pitch and its movement, spectral shape; no download). A model
            reads the codes it was trained on: the setting is saved with the processor.
        acoustic_codec_config, acoustic_codec_checkpoint (`str`, *optional*): SpeechTokenizer `config.json`
            and weights, loaded on first raw use.
        emotion_checkpoint (`str`, *optional*): an [`EmotionRecognizer`] directory or Hub id, loaded on first
            use (deriving emotion ids from speaker motion).
        emotion_without_face (`str`, defaults to `"neutral"`): what `mmlistener.listen` gives a model that reads
            emotion when a recording comes without the speaker's face: `"neutral"` emotion ids, or `"omit"`, the
            sequence without its emotion blocks, for a model trained to listen without them (`--stream_dropout
            ... --dropped_streams emotion` sets it), which then reads the emotion from the voice and the words.
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
        num_listener_tokens: int = TokenLayout.num_listener_tokens,
        num_acoustic_tokens: int = TokenLayout.num_acoustic_tokens,
        num_content_tokens: int = TokenLayout.num_content_tokens,
        num_emotion_tokens: int = TokenLayout.num_emotion_tokens,
        group_size: int = GROUP_SIZE,
        fps: int = FPS,
        modalities: Sequence[str] = DEFAULT_MODALITIES,
        acoustic_rate: int = CODE_RATE,
        history_seconds: float = HISTORY_SECONDS,
        max_history_tokens: int = 64,
        word_prefix: str = " ",
        asr_backend: str = "openai-whisper",
        asr_checkpoint: str | None = None,
        asr_language: str | None = "en",
        acoustic_codec_type: str = "speechtokenizer",
        acoustic_codec_config: str | None = None,
        acoustic_codec_checkpoint: str | None = None,
        emotion_checkpoint: str | None = None,
        emotion_without_face: str = "neutral",
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
        if acoustic_codec_type not in ACOUSTIC_CODEC_TYPES:
            raise ValueError(f"acoustic_codec_type must be one of {ACOUSTIC_CODEC_TYPES}, got {acoustic_codec_type!r}")
        if emotion_without_face not in EMOTION_WITHOUT_FACE:
            raise ValueError(f"emotion_without_face must be one of {EMOTION_WITHOUT_FACE}, got {emotion_without_face!r}")
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
        self.acoustic_codec_type = acoustic_codec_type
        self.acoustic_codec_config = acoustic_codec_config
        self.acoustic_codec_checkpoint = acoustic_codec_checkpoint
        self.emotion_checkpoint = emotion_checkpoint
        self.emotion_without_face = emotion_without_face
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

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs):
        """[`ProcessorMixin.save_pretrained`], with this file and the files it imports saved beside the settings
        (Hub remote code: `AutoProcessor.from_pretrained(dir, trust_remote_code=True)` loads it where mmlistener is
        not installed; `processor_config.json` has the `auto_map`).

        `constants.py` and `token_layout.py` of this folder hand on modeling's files of those names: the saved
        copies are modeling's own, so that the saved files import nothing but each other and installed packages.
        """
        if push_to_hub:
            raise ValueError("save the processor to a folder, then push it with mmlistener.hub.push_folder_to_hub")
        files = super().save_pretrained(save_directory, **kwargs)
        write_modeling_files(save_directory)
        return files

    def to_dict(self) -> dict:
        output = {name: getattr(self, name) for name in SETTINGS}
        output["modalities"] = list(self.modalities)
        output["processor_class"] = self.__class__.__name__
        if self._auto_class is not None:  # where AutoProcessor finds the class in the saved remote code
            output["auto_map"] = {self._auto_class: f"{type(self).__module__.split('.')[-1]}.{type(self).__name__}"}
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

    @asr.setter
    def asr(self, recognizer) -> None:
        """Use `recognizer` (an object with `transcribe(audio) -> words`, e.g. `KnownWords`) for raw audio."""
        self._asr = recognizer

    @property
    def acoustic_codec(self):
        """What encodes raw audio into `(content_codes, acoustic_codes)`: the `acoustic_codec_type` setting's."""
        if self._acoustic_codec is None and self.acoustic_codec_type == "prosody":
            from .prosody_tokenizer import ProsodyTokenizer

            self._acoustic_codec = ProsodyTokenizer()
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
            from transformers import AutoModel

            # mmlistener registers EmotionRecognizer with AutoModel; without the package (this file as Hub remote
            # code) its checkpoint's own remote code is used, with the trust transformers asks for
            self._emotion_recognizer = AutoModel.from_pretrained(self.emotion_checkpoint).eval()
        return self._emotion_recognizer

    def code_streamer(self, **settings):
        """Incremental codes of `acoustic_codec` for a live stream (audio pushed in, final codes out), whose blocks
        are this processor's groups, so that a group's codes are final with the code that closes it.

        SpeechTokenizer: a [`SlidingWindowCodes`] with `hop_seconds=group_seconds` (`settings`: `window_seconds`,
        `right_context_seconds`). The weight-free tokenizer (`acoustic_codec_type="prosody"`): its
        [`StreamingProsodyCodes`], whose codes are frame-local and take no settings.
        """
        if self.acoustic_codec_type == "prosody":
            if settings:
                raise ValueError(f"the prosody tokenizer streams its offline codes and takes no settings, got {settings}")
            return self.acoustic_codec.streaming()
        return self.acoustic_codec.streaming(hop_seconds=self.group_seconds, **settings)

    # ----------------------------------------------------------------------------------------------

    @property
    def group_seconds(self) -> float:
        """Seconds of one group, `group_size / fps`."""
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
        samples = split_batch(inputs)
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
        return pad_rows(rows, self.layout.pad_token_id, with_labels, return_tensors)

    def _encode_one(self, sample: dict, stage: str):
        """One clip -> (ids, group ids, listener-slot flags, scored flags), all numpy arrays."""
        sample = dict(sample)
        if sample.get("speaker_motion") is not None:
            sample["speaker_motion"] = checked_motion(sample["speaker_motion"])
        if sample.get("audio") is not None:
            sample["audio"] = prepare_audio(sample["audio"], sample.get("sampling_rate"))
        num_frames = self._num_frames(sample)
        num_groups = self._resolve_groups(sample, num_frames)
        if sample.get("audio") is not None:
            self._run_audio_front_ends(sample, num_frames)
        if "words" in self.modalities:
            window_words, history = self._split_words(sample, num_frames, num_groups)
        else:
            window_words, history = [[] for _ in range(num_groups)], []
        codes = {
            name: self._group_codes(sample.get(f"{name}_codes"), num_frames, num_groups, name)
            for name in CODE_STREAMS
            if name in self.modalities
        }
        emotion = self._emotion_ids(sample, num_frames, num_groups) if "emotion" in self.modalities else None
        listener_codes = sample.get("listener_codes") if stage == "listener" else None
        groups = [
            self.group_tokens(
                window_words[g],
                {name: per_group[g] for name, per_group in codes.items()},
                None if emotion is None else int(emotion[g]),
                stage=stage,
                listener_code=None if listener_codes is None else int(listener_codes[g]),
            )
            for g in range(num_groups)
        ]
        return join_groups(history, groups, score_history=stage == "speaker")

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
        codes = as_ids(codes, "listener_codes")
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
        wanted = [name for name in CODE_STREAMS if name in self.modalities]
        if any(sample.get(f"{name}_codes") is None for name in wanted):
            codes = dict(zip(("content", "acoustic"), self.acoustic_codec.encode(audio)))
            for name in wanted:
                if sample.get(f"{name}_codes") is None:
                    sample[f"{name}_codes"] = codes[name]

    # -- words -------------------------------------------------------------------------------------

    def tokenize_words(self, texts: list[str]) -> list[list[int]]:
        """The text token ids of each word of `texts` (`word_prefix` put before each), one list per word."""
        if not texts:
            return []
        return self.tokenizer([self.word_prefix + text for text in texts], add_special_tokens=False)["input_ids"]

    def history_tokens(self, history_words) -> list[int]:
        """The token ids of the history a clip keeps from `history_words` (`{"text", "end"}`, ends <= 0 s): the
        words ending within `history_seconds` before the first frame, the newest that fit in
        `max_history_tokens`; none when words are not a modality."""
        if "words" not in self.modalities:
            return []
        texts = recent_history(word_times(history_words, "history_words"), self.history_seconds)
        return trim_history(self.tokenize_words(texts), self.max_history_tokens)

    def _split_words(self, sample, num_frames: int, num_groups: int):
        """Token ids of the words of each group, and of the history (trimmed to `max_history_tokens`)."""
        words = word_times(sample.get("words"), "words")
        history = self.history_tokens(sample.get("history_words"))
        frames = word_frames(words, num_frames, self.fps)
        check_words_after_the_clip(words, frames, num_frames, self.fps)
        kept = [(text, frame // self.group_size) for (text, _, _), frame in zip(words, frames) if frame < num_frames]
        kept = [(text, group) for text, group in kept if group < num_groups]
        per_group: list[list[int]] = [[] for _ in range(num_groups)]
        for (_, group), ids in zip(kept, self.tokenize_words([text for text, _ in kept])):
            per_group[group].extend(ids)
        return per_group, history

    # -- codes and emotion -------------------------------------------------------------------------

    def _group_codes(self, codes, num_frames: int, num_groups: int, name: str) -> list[np.ndarray]:
        """The `{name}_codes` of each group, checked (see `streams.group_codes`)."""
        size = self.num_acoustic_tokens if name == "acoustic" else self.num_content_tokens
        return group_codes(
            codes, f"{name}_codes", size, num_frames, num_groups, self.fps, self.group_size, self.acoustic_rate
        )

    def _emotion_ids(self, sample, num_frames: int, num_groups: int) -> np.ndarray:
        """The emotion id of each group, checked: `emotion_ids`, or derived from the speaker's motion."""
        emotion = sample.get("emotion_ids")
        if emotion is None or len(emotion) == 0:
            motion, shape = sample.get("speaker_motion"), sample.get("speaker_shape")
            if motion is None or shape is None:
                raise ValueError(
                    "the emotion modality needs emotion_ids, or speaker_motion and speaker_shape to derive them"
                )
            emotion = self.emotion_ids_from_motion(motion, shape, num_groups=num_groups)
        return checked_emotion_ids(emotion, num_frames, num_groups, self.group_size, self.num_emotion_tokens)

    def emotion_ids_from_motion(self, speaker_motion, speaker_shape, num_groups: int | None = None) -> list[int]:
        """Emotion id per group of `speaker_motion (T, 56)` (raw values) with `speaker_shape (100,)`.

        Per-frame class probabilities from the emotion recogniser, averaged over each group, argmax.
        """
        motion = checked_motion(speaker_motion)
        shape = np.asarray(speaker_shape, dtype=np.float32).reshape(-1)
        if num_groups is not None:
            if num_groups * self.group_size > len(motion) + self.group_size - 1:
                raise ValueError(f"speaker_motion has {len(motion)} frames, too few for {num_groups} groups")
            motion = motion[: num_groups * self.group_size]
        probabilities = self.emotion_recognizer.predict_from_motion(motion, shape).probabilities
        return group_emotion_ids(probabilities.cpu().numpy(), self.group_size, num_groups)

    # -- one group -------------------------------------------------------------------------------

    def group_tokens(
        self,
        word_ids: list[int],
        codes: dict,
        emotion_id: int | None,
        stage: str = "listener",
        listener_code=None,
        modalities: Sequence[str] | None = None,
    ) -> GroupTokens:
        """The tokens of one group in the interleaved order, as `__call__` writes each group of a clip.

        Args:
            word_ids (`list[int]`): text token ids of the words ending in the group (see `tokenize_words`).
            codes (`dict[str, np.ndarray]`): the group's raw codes (`[0, num_acoustic_tokens)`, ...) of each code
                stream among the modalities (`"acoustic"`, `"content"`); exactly those.
            emotion_id (`int`, *optional*): the group's emotion class when emotion is a modality, else `None`.
            stage (`str`, defaults to `"listener"`): `"listener"` or `"speaker"`.
            listener_code (`int`, *optional*): fills the listener slot (and is scored); code 0 unscored when absent.
            modalities (`list[str]`, *optional*): the group's streams, when a caller leaves some of the processor's
                `modalities` out (a stream without emotion, as `without_streams` does offline); by default those.

        Returns:
            [`GroupTokens`]: `ids (n,)`, `scored (n,)` and `slot`, the index of the listener token (`None` for
            stage "speaker").
        """
        modalities = self.modalities if modalities is None else tuple(modalities)
        if not set(modalities) <= set(self.modalities):
            raise ValueError(f"modalities {modalities} are not all among the processor's {self.modalities}")
        wanted = {name for name in CODE_STREAMS if name in modalities}
        if set(codes) != wanted:
            raise ValueError(f"a group of modalities {modalities} takes codes of {sorted(wanted)}, got {sorted(codes)}")
        if (emotion_id is None) == ("emotion" in modalities):
            need = "an emotion id" if "emotion" in modalities else "no emotion id"
            raise ValueError(f"a group of modalities {modalities} takes {need}, got {emotion_id!r}")
        return group_tokens(self.layout, word_ids, codes, emotion_id, stage, listener_code)

    # ----------------------------------------------------------------------------------------------

    def sequence_length_report(self, encoding, config_or_model) -> dict:
        """How the longest sequence of `encoding` compares with a model's context (see
        `decoding.sequence_length_report`): `longest`, `max_position_embeddings`, `fits`, `overflow`."""
        return sequence_length_report(encoding, config_or_model)

    def decode(self, token_ids) -> str:
        """Readable form of one sequence: text, then `<A17>`, `<C3>`, `<E:1>`, `<L42>` for codes; no padding."""
        return decode_tokens(token_ids, self.layout, self.tokenizer)

    def batch_decode(self, sequences) -> list[str]:
        """[`decode`] of each row of `sequences (B, L)` (padding stripped)."""
        return [self.decode(row) for row in sequences]

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "group_ids", "listener_slot_mask"]


def _frame_count(value) -> int:
    """`num_frames` as an int: an integer, or a float with a whole value; a ValueError otherwise."""
    whole_float = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if whole_float or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
        return int(value)
    raise ValueError(f"num_frames must be a whole number of frames, got {value!r}")


ListenerProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["CODE_STREAMS", "DEFAULT_MODALITIES", "IGNORE_INDEX", "MODALITIES", "ListenerProcessor"]
