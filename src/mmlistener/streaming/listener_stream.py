"""ListenerStream: the speaker's features in as they become known, listener frames out as each group completes.

Per closed group `g` the stream builds the group's tokens with the processor (its words, `<sa>` codes `</sa>`,
`<emo>` id `</emo>`, `<lr>` slot `</lr>`), appends them to the one sample of a [`GenerationRun`], takes the next
code with `ListenerForCausalLM.generation_step` (the KV cache and the sliding window of `generate`), and decodes
it with a [`StreamingDecoder`]. Streamed with the same features, a turn gives the codes `generate` gives for the
clip through the processor.
"""

import numpy as np
import torch

from ..modeling.constants import MOTION_DIM
from ..modeling.modeling_listener import SampleTokens
from ..pipeline import check_compatible
from ..processing.streams import checked_motion
from .decoding import DEFAULT_LOOK_BACK, StreamingDecoder
from .speaker_inputs import SpeakerInputs


class ListenerStream:
    r"""A live listener: push the speaker's features as they become known, get listener frames as groups complete.

    Group `g` covers frames `[g * group_size, (g + 1) * group_size)`. Each input enters the group where it becomes
    known: a word or a code the group holding frame `ceil(end * fps)` (the processor's rule), or the open group
    when that one has closed already (a word the ASR confirms late). Group `g` closes once the clocks (the code
    streams of the processor's modalities, the emotion ids) have passed its end; the stream then picks its
    listener code and returns the frames that became final.

    Args:
        model ([`ListenerForCausalLM`]): the listener LM (put in eval mode).
        processor ([`ListenerProcessor`]): its processor; its modalities say which features the stream needs.
        vqvae ([`IdentityVQVAE`]): decodes the listener codes.
        listener_identity (`np.ndarray` of shape `(identity_dim,)`, *optional*): the listener's beta; required by an
            adaptive (AdaIN / AdaLN) decoder.
        speaker_shape (`np.ndarray` of shape `(100,)`, *optional*): the speaker's beta, needed to derive emotion
            from speaker frames with the processor's emotion recogniser.
        history_words (`list[dict]`, *optional*): words before the turn (ends <= 0 s), as the processor's.
        look_back (`int`, defaults to `DEFAULT_LOOK_BACK`): codes decoded together (see [`StreamingDecoder`]).
        asr ([`LocalAgreementASR`], *optional*): the incremental ASR `push_audio` feeds; by default local agreement
            over the processor's `asr`.
        acoustic_codes ([`SlidingWindowCodes`], *optional*): the incremental codes `push_audio` feeds; by default a
            sliding window over the processor's `acoustic_codec`.
        max_skew_seconds (`float`, defaults to 2.0): the clocks may be this far apart; further is an error.
        generation_config ([`GenerationConfig`], *optional*), generation_kwargs: as for `model.generate` (greedy
            by default; `do_sample=True, seed=...` samples).

    Example (trained parts; `docs/streaming.md` runs one with tiny random models):

    ```python
    stream = ListenerStream(model, processor, vqvae, listener_identity=beta)
    for chunk in feature_chunks:  # e.g. one group's worth each
        frames = stream.push_features(words=chunk["words"], acoustic_codes=chunk["codes"],
                                      emotion_ids=chunk["emotion"])  # (n, 56), n = 0, 8, 16...
    frames = stream.finish()  # the last, partial group
    ```
    """

    def __init__(
        self,
        model,
        processor,
        vqvae,
        listener_identity=None,
        speaker_shape=None,
        history_words=None,
        look_back: int = DEFAULT_LOOK_BACK,
        asr=None,
        acoustic_codes=None,
        max_skew_seconds: float = 2.0,
        generation_config=None,
        **generation_kwargs,
    ):
        check_compatible(model.config, processor, vqvae.config)
        self.model = model.eval()
        self.processor = processor
        self.speaker_shape = None if speaker_shape is None else np.asarray(speaker_shape, dtype=np.float32)
        self.decoder = StreamingDecoder(vqvae, listener_identity, look_back)
        self.inputs = SpeakerInputs(processor, max_skew_seconds)
        self.generation_config = generation_config
        self.generation_kwargs = generation_kwargs
        self._audio_front_ends = {"asr": asr, "codes": acoustic_codes}
        self._audio = None  # the AudioInputs, built by the first push_audio
        self.reset(history_words)

    def reset(self, history_words=None) -> None:
        """Start a new turn: forget the inputs, the codes, the KV cache and the decoder's look-back.

        Args:
            history_words (`list[dict]`, *optional*): the words before the new turn (ends <= 0 s); those within the
                processor's `history_seconds` are kept, trimmed to `max_history_tokens`, as offline.
        """
        self.inputs.reset()
        self.decoder.reset()
        if self._audio is not None:
            self._audio.reset()
        self._speaker_frames = np.zeros((0, MOTION_DIM), dtype=np.float32)  # frames of the open emotion group
        self._emotion_source = None
        self._omits_emotion = False  # the turn's groups have no emotion block (see push_audio)
        self._finished = False
        history = self._history_ids(history_words)
        sample = SampleTokens(history=history, prefixes=[], suffixes=[])
        self._run = self.model.start_generation([sample], self.generation_config, **self.generation_kwargs)

    @property
    def codes(self) -> list[int]:
        """The listener codes picked so far in this turn, one per closed group."""
        return self._run.picked[0].tolist()

    # -- pushing ---------------------------------------------------------------------------------------

    def push_features(
        self, words=None, acoustic_codes=None, content_codes=None, emotion_ids=None, speaker_motion=None
    ) -> np.ndarray:
        """Add the speaker's features that became known; return the listener frames that became final.

        Args:
            words (`list[dict]`, *optional*): new words `{"text", "start"?, "end"}`, seconds from the turn's first
                frame. A word ending before the turn is an error (give it in `history_words`); one ending in a group
                that has closed already enters the open group.
            acoustic_codes, content_codes (`list[int]`, *optional*): the next codes of the stream, at the
                processor's `acoustic_rate` (50 / s), continuing the codes pushed so far.
            emotion_ids (`list[int]`, *optional*): the emotion ids of the next groups, one per group.
            speaker_motion (`np.ndarray` of shape `(frames, 56)`, *optional*): the next speaker frames, from which the
                processor's emotion recogniser derives an emotion id per completed group (needs `speaker_shape`).
                A turn takes emotion ids or speaker frames, not both.

        Returns:
            `np.ndarray` of shape `(n, 56)`, float32 raw listener motion: `downsample_rate` frames per group
            closed by this push (0 while too few codes are known to decode).
        """
        if self._finished:
            raise ValueError("the turn is finished: call reset() to start a new one")
        if speaker_motion is not None and emotion_ids is not None:
            raise ValueError("give emotion_ids or speaker_motion, not both")
        speaker_frames = self._speaker_frames
        if speaker_motion is not None:
            self._check_emotion_source("speaker_motion")
            speaker_frames = np.concatenate([speaker_frames, checked_motion(speaker_motion)])
            emotion_ids, speaker_frames = self._frame_emotion(speaker_frames, final=False)
        elif emotion_ids is not None:
            self._check_emotion_source("emotion_ids")
        codes = {"acoustic": acoustic_codes, "content": content_codes}
        self.inputs.add(words=words, codes=codes, emotion_ids=emotion_ids)
        self._speaker_frames = speaker_frames
        if speaker_motion is not None or emotion_ids is not None:
            self._emotion_source = "emotion_ids" if speaker_motion is None else "speaker_motion"
        frames = []
        while self.inputs.group_is_complete():
            frames.append(self._close_group())
        return self._joined(frames)

    def push_audio(self, chunk, sampling_rate: int) -> np.ndarray:
        """Add the speaker's next audio; return the listener frames that became final.

        The chunk goes through the incremental front ends the modalities need (see [`AudioInputs`]): words
        confirmed by local agreement, codes from a sliding window, and Neutral emotion ids unless the stream has
        a `speaker_shape` (then emotion comes from `push_speaker_frames`). A model whose processor has
        `emotion_without_face="omit"` (trained with emotion dropout) gets no emotion at all instead of Neutral
        ids: the turn's groups have no emotion block, as in `mmlistener.listen` without speaker motion.

        A chunk that is refused leaves the stream as it was, nothing consumed, so the same chunk can be pushed again:
        a bad rate or NaN, or audio that would run more than `max_skew_seconds` ahead of the speaker frames that give
        emotion (push those first).

        Args:
            chunk (`np.ndarray` of shape `(samples,)`, `(samples, channels)` or `(channels, samples)`): the next
                audio, of any length.
            sampling_rate (`int`): its rate (resampled to 16 kHz); the same for every chunk of a turn.

        Returns:
            `np.ndarray` of shape `(n, 56)`, as `push_features`.
        """
        if self._finished:
            raise ValueError("the turn is finished: call reset() to start a new one")
        if self._audio is None:
            from .audio_inputs import AudioInputs

            self._audio = AudioInputs(self.processor, **self._audio_front_ends, neutral_emotion=self.speaker_shape is None)
        mono = self._audio.checked(chunk, sampling_rate)
        if self._audio.neutral_emotion and self._emotion_source is None:
            # the audio's Neutral ids keep the emotion clock; a model trained to listen without emotion reads no
            # emotion block at all, as the offline `listen` feeds it
            self._omits_emotion = self.processor.emotion_without_face == "omit"
        audio_clocks = [clock for clock in self.inputs.clocks if clock != "emotion" or self._audio.neutral_emotion]
        covered = self._audio.seconds + len(mono) / sampling_rate
        self.inputs.check_clocks(dict.fromkeys(audio_clocks, covered))  # before the front ends consume the audio
        return self.push_features(**self._audio.push(mono, sampling_rate))

    def push_speaker_frames(self, motion) -> np.ndarray:
        """`push_features(speaker_motion=motion)`: the speaker's next frames `(frames, 56)`, emotion derived."""
        return self.push_features(speaker_motion=motion)

    def finish(self) -> np.ndarray:
        """End the turn: close the open group with what is pending (inputs ending on its end boundary included, as
        the processor does at a clip's end; later ones dropped) and return its frames `(n, 56)`.

        A turn whose codes are fewer than the VQ-VAE's `min_codes` cannot be decoded: a ValueError.
        """
        if self._finished:
            raise ValueError("the turn is finished already: call reset() to start a new one")
        frames = [] if self._audio is None else [self.push_features(**self._audio.finish())]
        if len(self._speaker_frames):
            emotion_ids, self._speaker_frames = self._frame_emotion(self._speaker_frames, final=True)
            self.inputs.add(emotion_ids=emotion_ids)
        if self.inputs.has_inputs():
            frames.append(self._close_group(final=True))
        self._finished = True
        if self.decoder.waiting:
            raise ValueError(
                f"the turn has {self.decoder.waiting} listener code(s), too few for the VQ-VAE decoder (it needs "
                f"{self.decoder.vqvae.config.min_codes} decoded together)"
            )
        return self._joined(frames)

    def close(self) -> None:
        """End the turn and the audio front ends' background thread (the ASR's); `reset()` starts a new turn.
        `with ListenerStream(...) as stream:` closes it on leaving the block."""
        if self._audio is not None:
            self._audio.close()
        self._finished = True

    def __enter__(self) -> "ListenerStream":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- inside ----------------------------------------------------------------------------------------

    def _history_ids(self, history_words) -> torch.LongTensor:
        """Token ids of the history, as the processor keeps it (`history_seconds`, `max_history_tokens`)."""
        ids = self.processor.history_tokens(history_words)
        return torch.tensor(ids, dtype=torch.long, device=self.model.device)

    def _check_emotion_source(self, source: str) -> None:
        if self._emotion_source not in (None, source):
            raise ValueError(f"this turn's emotion comes from {self._emotion_source}; do not also push {source}")

    def _frame_emotion(self, frames: np.ndarray, final: bool) -> tuple[list[int], np.ndarray]:
        """`(emotion ids, frames left)`: the ids of the whole groups of speaker `frames (n, 56)` (and of a last
        partial group when `final`), and the frames of an incomplete group, which wait for the next push."""
        if self.speaker_shape is None:
            raise ValueError("deriving emotion from speaker frames needs the speaker's beta: pass speaker_shape")
        size = self.processor.group_size
        groups = -(-len(frames) // size) if final else len(frames) // size
        if groups == 0:
            return [], frames
        ids = self.processor.emotion_ids_from_motion(frames[: groups * size], self.speaker_shape, num_groups=groups)
        return ids, frames[groups * size :]

    def _close_group(self, final: bool = False) -> np.ndarray:
        """Close the open group: its tokens, its listener code, the frames that became final."""
        texts, codes, emotion = self.inputs.close_group(final)
        prefix, suffix = self._group_tokens(texts, codes, emotion)
        sample = self._run.samples[0]
        sample.prefixes.append(prefix)
        sample.suffixes.append(suffix)
        code = self.model.generation_step(self._run)
        return self.decoder.push(int(code[0]))

    def _group_tokens(self, texts, codes, emotion) -> tuple[torch.LongTensor, torch.LongTensor]:
        """The group's tokens as the processor writes them (`group_tokens`), cut at the listener slot: (prefix, suffix)."""
        words = [token for ids in self.processor.tokenize_words(texts) for token in ids]
        if self._omits_emotion:
            modalities = [name for name in self.processor.modalities if name != "emotion"]
            group = self.processor.group_tokens(words, codes, None, modalities=modalities)
        else:
            group = self.processor.group_tokens(words, codes, emotion)
        ids = torch.from_numpy(group.ids).to(self.model.device)
        return ids[: group.slot], ids[group.slot :]

    def _joined(self, frames: list[np.ndarray]) -> np.ndarray:
        motion_dim = self.decoder.vqvae.config.motion_dim
        return np.concatenate([np.zeros((0, motion_dim), dtype=np.float32), *frames])


__all__ = ["ListenerStream"]
