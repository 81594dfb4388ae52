"""Seeded synthetic 3DMM motion with identity-dependent style, and a synthetic dyadic corpus.

Motion is 56-dim per frame (50 FLAME expression + 3 head rotation + 3 jaw, REFERENCE layout).
Each identity has a shape vector beta (100,) which sets a per-channel offset and scale:

    motion_t = content_t * scale(beta) + offset(beta)

`content` is identity-free: smooth oscillations (0.2 to 2 Hz) of a few latent factors mixed into
the 56 channels, plus smoothed noise. A model that removes per-sequence statistics (instance
norm) sees the same content for every identity, and one that re-injects beta (AdaIN) can restore
the style: the structure the identity-disentangled VQ-VAE is built for.

The dyadic corpus (`sample_dyadic_clip`, `write_synthetic_corpus`) builds conversations on top of
that: a speaker talks, a listener reacts by rules that a model can learn from the speaker's words,
acoustic codes and emotion (see `sample_dyadic_clip` for the rules). The speaker's turns are spoken
(`speech_synthesis`: eSpeak NG, one voice per speaker, prosody set by the emotion); the words' times
are the synthesis's and the acoustic and content codes are the acoustic tokenizer's codes of that audio.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import convolve1d

from ..modeling.constants import EXPRESSION_DIM, FPS, GROUP_SIZE, IDENTITY_DIM, MOTION_DIM, NUM_EMOTIONS
from ..processing.streaming_codes import HOP_SAMPLES
from .speech_synthesis import CORPUS_VOICES, SAMPLE_RATE, Voice, synthesize_word
from .windowing import CODE_RATE

_STYLE_SEED = 20250611  # fixed: the beta -> style map is part of the corpus definition


def _style_maps() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_STYLE_SEED)
    offset_map = rng.standard_normal((MOTION_DIM, IDENTITY_DIM)) / np.sqrt(IDENTITY_DIM)
    scale_map = rng.standard_normal((MOTION_DIM, IDENTITY_DIM)) / np.sqrt(IDENTITY_DIM)
    return offset_map, scale_map


def channel_amplitude() -> np.ndarray:
    """Typical size of each channel `(56,)`: expression coefficients ~1, rotations and jaw ~0.1 rad."""
    amplitude = np.full(MOTION_DIM, 1.0)
    amplitude[EXPRESSION_DIM:] = 0.1
    return amplitude


def identity_style(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel `(offset, scale)`, each `(..., 56)`, of identities `beta (..., 100)`."""
    beta = np.asarray(beta, dtype=np.float64)
    if beta.shape[-1] != IDENTITY_DIM:
        raise ValueError(f"beta must end in {IDENTITY_DIM} dims, got shape {beta.shape}")
    offset_map, scale_map = _style_maps()
    amplitude = channel_amplitude()
    offset = 0.8 * (beta @ offset_map.T) * amplitude
    scale = np.exp(0.4 * (beta @ scale_map.T))
    return offset, scale


def content_motion(
    num_frames: int, rng: np.random.Generator, fps: int = FPS, num_factors: int = 6
) -> np.ndarray:
    """Identity-free motion content `(num_frames, 56)` with zero mean per channel on average."""
    t = np.arange(num_frames) / fps
    freqs = rng.uniform(0.2, 2.0, size=num_factors)
    phases = rng.uniform(0, 2 * np.pi, size=num_factors)
    factors = np.sin(2 * np.pi * freqs[None, :] * t[:, None] + phases[None, :])  # (T, F)
    mixing = rng.standard_normal((num_factors, MOTION_DIM)) / np.sqrt(num_factors)
    noise = rng.standard_normal((num_frames, MOTION_DIM)) * 0.3
    kernel = np.hanning(9) / np.hanning(9).sum()
    noise = convolve1d(noise, kernel, axis=0, mode="constant")
    return (factors @ mixing + noise) * channel_amplitude()


def apply_style(content: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Motion `(T, 56)` of identity `beta (100,)` performing `content (T, 56)`."""
    offset, scale = identity_style(beta)
    return content * scale + offset


@dataclass
class IdentityMotion:
    """A batch of styled motion.

    Attributes:
        motion (`np.ndarray` of shape `(num_sequences, num_frames, 56)`, float32)
        identity (`np.ndarray` of shape `(num_sequences, 100)`, float32): beta of each sequence.
        identity_index (`np.ndarray` of shape `(num_sequences,)`, int64): which identity.
    """

    motion: np.ndarray
    identity: np.ndarray
    identity_index: np.ndarray


def identity_betas(num_identities: int, seed: int = 0) -> np.ndarray:
    """Shape vectors `(num_identities, 100)` of distinct identities."""
    return np.random.default_rng(seed).standard_normal((num_identities, IDENTITY_DIM)).astype(np.float32)


def sample_identity_motion(
    num_sequences: int, num_frames: int, num_identities: int = 4, seed: int = 0, fps: int = FPS
) -> IdentityMotion:
    """Sequences of several identities, each performing fresh content in its own style."""
    if num_sequences <= 0 or num_frames <= 0 or num_identities <= 0:
        raise ValueError("num_sequences, num_frames and num_identities must be positive")
    rng = np.random.default_rng(seed)
    betas = identity_betas(num_identities, seed=seed + 1)
    index = rng.integers(0, num_identities, size=num_sequences)
    motion = np.stack([apply_style(content_motion(num_frames, rng, fps=fps), betas[i]) for i in index])
    return IdentityMotion(motion=motion.astype(np.float32), identity=betas[index], identity_index=index)


# --------------------------------------------------------------------------------------------------
# The dyadic corpus: a speaker talks, a listener reacts.

SPEAKER_EMOTIONS = (0, 1, 2, 3, 6)  # the classes the speaker's Markov chain visits
EMOTION_STAY = 0.9  # probability that the speaker's emotion stays the same from one group to the next
NEUTRAL_WORDS = (
    "so", "the", "we", "went", "to", "a", "place", "and", "then", "it", "was", "there", "people", "you",
    "know", "today", "about", "with",
)  # fmt: skip
EMOTION_WORDS = {
    0: (),
    1: ("great", "love", "wonderful", "happy", "amazing"),
    2: ("sad", "sorry", "lost", "miss", "alone"),
    3: ("wow", "suddenly", "unbelievable", "really", "surprise"),
    6: ("hate", "angry", "unfair", "terrible", "furious"),
}
JOKE_WORDS = ("punchline", "kidding", "bananas")
CONTROL_WORDS = dict(zip(JOKE_WORDS, NEUTRAL_WORDS))  # the neutral word a control recording says in a joke's place
LEXICON = NEUTRAL_WORDS + tuple(w for words in EMOTION_WORDS.values() for w in words) + JOKE_WORDS
EMOTION_WORD_RATE = 0.35  # share of words drawn from the current emotion's words
JOKE_RATE = 0.3  # share of utterances ending on a joke word
# an utterance's last word carries a full stop in its text (not in its audio), as a transcript with punctuation
# (Whisper's timed words: "kidding.") gives it: the words stream then tells where an utterance ends
SENTENCE_END = "."
WORD_GAP = 0.03  # seconds of silence between the words of an utterance
UTTERANCE_GAIN_DB = 1.5  # each utterance's loudness varies by up to this much around the voice's
NOISE_FLOOR = 3e-4  # RMS of the recording's background noise (about -70 dBFS)

# listener response lags and shapes, in frames at 30 fps
CONTAGION_LAG = 12
NOD_LAG, NOD_FRAMES = 6, 24
LAUGH_LAG, LAUGH_FRAMES = 9, 36
HEAD_PITCH, JAW_OPEN = 50, 53  # channels of the 56: head rotation x, jaw rotation x
_PROTOTYPE_SEED = 20250612
LEAD_FRAMES = 96  # frames spoken before a clip's frame 0 (its history words); a segment starts there on its clock


def emotion_prototypes() -> np.ndarray:
    """Identity-free expression content `(8, 56)` of each emotion class; Neutral is all zeros."""
    rng = np.random.default_rng(_PROTOTYPE_SEED)
    prototypes = rng.standard_normal((NUM_EMOTIONS, MOTION_DIM)) * 0.8 * channel_amplitude()
    prototypes[0] = 0.0
    return prototypes


@dataclass
class DyadicClip:
    """One synthetic conversation clip, frames `[0, num_frames)` (times in seconds from frame 0).

    Attributes:
        speaker_motion, listener_motion (`np.ndarray` `(num_frames, 56)`, float32): raw styled motion.
        speaker_emotion (`np.ndarray` `(num_frames,)`, int64): the speaker's true emotion class per frame.
        words (`list[dict]`): `{"text", "start", "end"}`, all the words spoken, including those
            before frame 0 (negative times) and the last one, which may run past the clip.
        acoustic_codes, content_codes (`np.ndarray` `(round(num_frames * 50 / fps),)`, int64): 50 Hz codes of the
            audio from frame 0 (the acoustic tokenizer's acoustic and content codes).
        audio (`np.ndarray` `(samples,)`, float32): the speaker's speech at 16 kHz from `audio_start` to the clip's
            end (the lead, with the history words, first), 16-bit values (`pcm16(audio) / 32768`).
        audio_start (`float`): time of the audio's first sample, seconds from frame 0 (`-lead_frames / fps`).
        utterance_ends (`list[float]`): end of each utterance's last word, for all of them like `words`; the
            listener's nod starts `NOD_LAG` frames after the pause that follows (0.03 s after this end).
        joke_ends (`list[float]`): end of each joke word; laughter starts `LAUGH_LAG` frames later.
        emotion_changes (`list[float]`): time `k / fps` of each frame `k` in `[0, num_frames)` whose speaker
            emotion differs from the frame before (frame -1 is the lead's last frame).
    """

    speaker_motion: np.ndarray
    listener_motion: np.ndarray
    speaker_emotion: np.ndarray
    words: list
    acoustic_codes: np.ndarray
    content_codes: np.ndarray
    utterance_ends: list
    joke_ends: list
    emotion_changes: list
    audio: np.ndarray
    audio_start: float


def _smooth(x: np.ndarray, seconds: float, fps: int) -> np.ndarray:
    """First-order low-pass along time (axis 0) with time constant `seconds`."""
    from scipy.signal import lfilter

    alpha = 1.0 - np.exp(-1.0 / (seconds * fps))
    return lfilter([alpha], [1.0, alpha - 1.0], x, axis=0, zi=(1 - alpha) * x[:1])[0]


def _speaker_timeline(num_frames: int, lead: int, fps: int, rng: np.random.Generator, voice: Voice,
                      jokes_spoken: bool = True):
    """Per-group emotion chain, then utterances of spoken words that follow it; frames counted from -lead.

    Each word is synthesised in `voice` with the prosody of the emotion at its start; it lasts as long as its
    audio and starts on a sample. `jokes_spoken=False` says a neutral word where a joke word would go, in the joke
    word's time slot (the same random draws and times: a control recording whose only difference is the joke
    words). Each utterance's last word has `SENTENCE_END` appended to its text (a transcript's punctuation; the
    audio is the bare word's).

    Returns:
        `(emotion (lead + num_frames,), words, utterance_ends, pauses, jokes, audio)`, times in seconds from frame 0:
        the end of each utterance's last word, the start of the pause after it, the end of each joke word; the
        speech `(samples,)` at 16 kHz from `-lead / fps` to the clip's end.
    """
    total = lead + num_frames
    num_groups = -(-total // GROUP_SIZE)
    chain = [rng.choice(SPEAKER_EMOTIONS)]
    for _ in range(num_groups - 1):
        chain.append(chain[-1] if rng.random() < EMOTION_STAY else rng.choice(SPEAKER_EMOTIONS))
    emotion = np.repeat(np.asarray(chain, dtype=np.int64), GROUP_SIZE)[:total]
    origin, num_samples = lead / fps, round(total / fps * SAMPLE_RATE)
    audio = rng.standard_normal(num_samples).astype(np.float32) * NOISE_FLOOR
    words, utterance_ends, pauses, jokes = [], [], [], []

    def say(text: str, t: float, gain: float, slot: str | None = None) -> float:
        """Place `text` at the first sample at or after `t`; returns the end (seconds from frame 0) of its slot: its
        own, or that of the word `slot` (the control's neutral word keeps the joke word's time)."""
        first = int(np.ceil((t + origin) * SAMPLE_RATE - 1e-9))
        current = int(emotion[min(int(first / SAMPLE_RATE * fps), total - 1)])
        spoken = synthesize_word(text, voice, current)
        stop = min(first + len(spoken), num_samples)
        if first < num_samples:
            audio[first:stop] += gain * spoken[: stop - first]
        start, end = first / SAMPLE_RATE - origin, (first + len(spoken)) / SAMPLE_RATE - origin
        words.append({"text": text, "start": start, "end": end})
        return end if slot is None else start + len(synthesize_word(slot, voice, current)) / SAMPLE_RATE

    t, end_time = -origin + rng.uniform(0.0, 0.5), num_frames / fps
    while t < end_time:
        utterance_end = t + rng.uniform(1.2, 3.5)
        joke = rng.random() < JOKE_RATE
        gain = np.float32(10 ** (rng.uniform(-UTTERANCE_GAIN_DB, UTTERANCE_GAIN_DB) / 20))
        while t < utterance_end:
            current = int(emotion[min(int((t + origin) * fps), total - 1)])
            if rng.random() < EMOTION_WORD_RATE and EMOTION_WORDS[current]:
                text = str(rng.choice(EMOTION_WORDS[current]))
            else:
                text = str(rng.choice(NEUTRAL_WORDS))
            t = say(text, t, gain) + WORD_GAP
        if joke:
            index = int(rng.integers(len(JOKE_WORDS)))
            if jokes_spoken:
                t = say(JOKE_WORDS[index], t, gain)
                jokes.append(t)
            else:
                t = say(CONTROL_WORDS[JOKE_WORDS[index]], t, gain, slot=JOKE_WORDS[index])
            t += WORD_GAP
        words[-1]["text"] += SENTENCE_END
        utterance_ends.append(words[-1]["end"])
        pauses.append(t)
        t += rng.uniform(0.5, 1.2)
    return emotion, words, utterance_ends, pauses, jokes, pcm16(audio) / np.float32(PCM_SCALE)


PCM_SCALE = 32768  # 16-bit samples: the corpus's audio is what its FLAC files hold, to the bit


def without_joke_words(words: list[dict]) -> list[dict]:
    """The timed words with each joke word's text replaced by its `CONTROL_WORDS` neutral word (a full stop kept),
    times and every other key unchanged: the words of the control recording, on the joke's audio."""
    replaced = []
    for word in words:
        text = word["text"]
        base = text.removesuffix(SENTENCE_END)
        replaced.append({**word, "text": CONTROL_WORDS[base] + text[len(base):]} if base in CONTROL_WORDS else word)
    return replaced


def pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as 16-bit integer samples (`x * 32768`, rounded and clipped)."""
    return np.clip(np.round(audio * PCM_SCALE), -PCM_SCALE, PCM_SCALE - 1).astype(np.int16)


def _emotion_changes(emotion: np.ndarray, lead: int, fps: int) -> list[float]:
    """Seconds from frame 0 of each clip frame whose emotion differs from the previous frame's (the lead's last
    frame before frame 0; none before frame 0 without a lead), from `emotion (lead + num_frames,)`."""
    frames = np.flatnonzero(np.diff(emotion)) + 1 - lead
    return (frames[frames >= 0] / fps).tolist()


def _speaking(words: list, times: np.ndarray) -> np.ndarray:
    """Per time: whether a word is being spoken."""
    active = np.zeros(len(times), dtype=bool)
    for word in words:
        active |= (times >= word["start"]) & (times < word["end"])
    return active


def _bump(length: int, start: float, frames: int, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """Envelope (Hann, `frames` long, starting at frame `start`) over `length` frames, and seconds into it."""
    k = np.arange(length) - start
    inside = (k >= 0) & (k < frames)
    envelope = np.where(inside, np.sin(np.pi * np.clip(k, 0, frames) / frames) ** 2, 0.0)
    return envelope, k / fps


def sample_dyadic_clip(
    num_frames: int,
    speaker_beta: np.ndarray,
    listener_beta: np.ndarray,
    rng: np.random.Generator,
    fps: int = FPS,
    lead_frames: int = LEAD_FRAMES,
    voice: Voice = CORPUS_VOICES[0],
    codec=None,
    jokes_spoken: bool = True,
    with_codes: bool = True,
) -> DyadicClip:
    """Sample one conversation clip. The rules (all lags at 30 fps; the clip starts `lead_frames` earlier so
    that frame 0 already has history):

    Speaker
      - Emotion: a Markov chain over Neutral, Happy, Sad, Surprise, Anger, one state per group of 8 frames,
        staying with probability 0.9. Expression content eases (time constant 0.2 s) towards the emotion's
        prototype (`emotion_prototypes`), plus identity-free idle motion (`content_motion` x 0.25).
      - Words: utterances of 1.2-3.5 s separated by pauses of 0.5-1.2 s; 35 % of the words are words of the
        current emotion ("great", "sad", "wow", "hate", ...), the rest neutral; 30 % of utterances end on a joke
        word ("punchline", "kidding", "bananas"). While a word is spoken the jaw and mouth move at 4 Hz.
      - Speech: each word spoken in `voice` (eSpeak NG) with the emotion's prosody (`EMOTION_PROSODY`: Anger
        and Surprise loud, Sad quiet, slow and flat, Happy and Surprise high), 30 ms apart, each utterance
        +-1.5 dB; silence (a -70 dBFS noise floor) between utterances. Words last as long as their audio.
      - Acoustic and content codes (50 Hz): `codec.encode` of that audio (default: the weight-free
        `ProsodyTokenizer`; a `SpeechTokenizerCodes` gives the paper's codes), computed over the lead too so that
        the first codes have their context.
    Listener (content, then `apply_style` with the listener's beta)
      - Emotion contagion: expression eases (0.3 s) towards 0.7 x the prototype of the speaker's emotion of
        12 frames (1.5 groups) earlier.
      - Nods at pauses: 6 frames after each utterance ends, a 24-frame double nod (head pitch, +-0.15 rad).
      - Laughter after jokes: 9 frames after a joke word ends, 36 frames of laughter (1.2 x Happy prototype,
        jaw opening at 5 Hz, head thrown back 0.06 rad).
      - Idle motion: `content_motion` x 0.1 (the only part not predictable from the speaker).

    Random windows or nearest neighbours by speaker motion return another moment (wrong timing of nods and
    laughs, other emotion) and mostly another listener (wrong style); a model that reads the speaker's
    streams and decodes in the listener's identity can recover almost all of the listener's motion.

    `jokes_spoken=False` makes the control clip of the same draws: a neutral word where each joke word would be,
    and so no laughter. `with_codes=False` leaves the codes `None` for `with_speech_codes` to fill later (the
    corpus writer encodes clips in threads while it samples the next ones; the draws are the same).
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    total = lead_frames + num_frames
    emotion, words, utterance_ends, pauses, jokes, audio = _speaker_timeline(
        num_frames, lead_frames, fps, rng, voice, jokes_spoken
    )
    prototypes = emotion_prototypes()
    times = (np.arange(total) - lead_frames) / fps
    speaking = _speaking(words, times)
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * times)

    speaker = _smooth(prototypes[emotion], 0.2, fps) + 0.25 * content_motion(total, rng, fps=fps)
    talk = speaking * syllables
    speaker[:, JAW_OPEN] += 0.12 * talk
    speaker[:, :4] += 0.4 * talk[:, None]

    lagged = np.concatenate([np.full(CONTAGION_LAG, emotion[0]), emotion[:-CONTAGION_LAG]])
    listener = _smooth(0.7 * prototypes[lagged], 0.3, fps) + 0.1 * content_motion(total, rng, fps=fps)
    for pause in pauses:
        envelope, seconds = _bump(total, pause * fps + lead_frames + NOD_LAG, NOD_FRAMES, fps)
        listener[:, HEAD_PITCH] -= 0.15 * envelope * np.sin(2 * np.pi * seconds / (NOD_FRAMES / fps / 2))
    for joke in jokes:
        envelope, seconds = _bump(total, joke * fps + lead_frames + LAUGH_LAG, LAUGH_FRAMES, fps)
        listener += 1.2 * envelope[:, None] * prototypes[1]
        listener[:, JAW_OPEN] += 0.1 * envelope * (0.5 + 0.5 * np.sin(2 * np.pi * 5.0 * seconds))
        listener[:, HEAD_PITCH] += 0.06 * envelope

    window = slice(lead_frames, total)
    clip = DyadicClip(
        speaker_motion=apply_style(speaker[window], speaker_beta).astype(np.float32),
        listener_motion=apply_style(listener[window], listener_beta).astype(np.float32),
        speaker_emotion=emotion[window],
        words=[{**w, "start": float(w["start"]), "end": float(w["end"])} for w in words],
        acoustic_codes=None,
        content_codes=None,
        utterance_ends=[float(end) for end in utterance_ends],
        joke_ends=[float(end) for end in jokes],
        emotion_changes=_emotion_changes(emotion, lead_frames, fps),
        audio=audio,
        audio_start=-lead_frames / fps,
    )
    return with_speech_codes(clip, codec, fps) if with_codes else clip


def with_speech_codes(clip: DyadicClip, codec=None, fps: int = FPS) -> DyadicClip:
    """`clip` with its acoustic and content codes: `codec`'s codes of its audio from frame 0 (the lead before it
    is their context), `round(num_frames * 50 / fps)` of each; `codec` defaults to the `ProsodyTokenizer`."""
    count = round(len(clip.speaker_motion) * CODE_RATE / fps)
    content, acoustic = speech_codes(codec, clip.audio, -clip.audio_start, count)
    return replace(clip, acoustic_codes=acoustic.astype(np.int64), content_codes=content.astype(np.int64))


def speech_codes(codec, audio: np.ndarray, offset: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`(content, acoustic)` codes `(count,)` of 16 kHz `audio` from `offset` seconds into it, encoded whole (the
    part before `offset` is their context; a last partial code's samples are padded with silence); `codec`
    defaults to the weight-free `ProsodyTokenizer`."""
    if codec is None:
        from ..processing.prosody_tokenizer import ProsodyTokenizer

        codec = ProsodyTokenizer()
    first = round(offset * CODE_RATE)
    audio = np.pad(audio, (0, max(0, (first + count) * HOP_SAMPLES - len(audio))))
    content, acoustic = (np.asarray(codes, dtype=np.int64)[first : first + count] for codes in codec.encode(audio))
    if len(acoustic) < count:
        raise ValueError(f"the codec gave {len(acoustic) + first} codes for {len(audio)} samples; expected {first + count}")
    return content, acoustic


def _segment(clip: DyadicClip, fname: str, start_frame: int, listener_beta, speaker_beta, listener_id, voice, fps):
    """One segment dict of LM-Listener's release (times on the source video's clock), plus the extra keys."""
    import torch

    num_frames = len(clip.speaker_motion)
    offset = start_frame / fps
    shifted = [
        {"text": w["text"], "start": w["start"] + offset, "end": w["end"] + offset} for w in clip.words
    ]

    end = offset + num_frames / fps
    events = {
        kind: [time + offset for time in getattr(clip, kind) if time + offset <= end]
        for kind in ("utterance_ends", "joke_ends", "emotion_changes")
    }

    def shape(beta):  # constant over the clip: one row broadcast over the frames (stored once)
        return torch.from_numpy(np.asarray(beta, dtype=np.float32)[None]).expand(num_frames, IDENTITY_DIM)

    def tensor(array):
        return torch.from_numpy(np.ascontiguousarray(array))

    return {
        "fname": fname,
        "split_start_frame": start_frame,
        "split_end_frame": start_frame + num_frames,
        "before_words": [w for w in shifted if w["end"] < offset],
        "during_words": [w for w in shifted if offset <= w["end"] <= end],
        "p0_exp": tensor(clip.listener_motion[:, :EXPRESSION_DIM]),
        "p0_pose": tensor(clip.listener_motion[:, EXPRESSION_DIM:]),
        "p0_shape": shape(listener_beta),
        # detail codes are not used by mmlistener: a zero row broadcast over the frames (stored once)
        "p0_detail": torch.zeros(1, 128).expand(num_frames, 128),
        "p1_exp": tensor(clip.speaker_motion[:, :EXPRESSION_DIM]),
        "p1_pose": tensor(clip.speaker_motion[:, EXPRESSION_DIM:]),
        "p1_shape": shape(speaker_beta),
        "p1_emotion": tensor(clip.speaker_emotion),
        "p1_acoustic_codes": tensor(clip.acoustic_codes),
        "p1_content_codes": tensor(clip.content_codes),
        "listener_id": listener_id,
        "voice": voice,
        "events": events,
    }


ENCODE_THREADS = 4  # at most this many threads encode the corpus's speech (fewer on fewer cores)
MEDIA_DIR = "media"  # the corpus's speech, one FLAC per segment: media/<fname's stem>.flac


def write_synthetic_corpus(
    out_dir: str,
    num_train: int = 64,
    num_val: int = 8,
    num_test: int = 16,
    seed: int = 0,
    num_listeners: int = 4,
    num_speakers: int = 6,
    min_frames: int = 360,
    max_frames: int = 720,
    fps: int = FPS,
    voices: tuple[Voice, ...] = CORPUS_VOICES,
    codec=None,
) -> str:
    """Write a spoken synthetic dyadic corpus in LM-Listener's release format and return `out_dir`.

    Files: `segments_{train,val,test}.pth` (lists of segment dicts, read by `L2LTrevor("lm_listener")`),
    `mean.npy` / `std.npy` (56 values, listener motion of the train split) and the speaker's speech of each
    segment, `media/synthetic/<split>/conversation_<index>.flac` (16 kHz, on the segment's source clock: the
    media folder for `prepare_dataset(media_dir=...)` and `mmlistener.data.window_audio`). Besides the release's
    keys each segment carries `p1_emotion` (the speaker's true emotion per frame), `p1_acoustic_codes` and
    `p1_content_codes` (50 Hz from the segment's first frame: `codec`'s codes of the speech, by default the
    weight-free `ProsodyTokenizer`), `listener_id`, `voice` and `events`, the ground truth of the listener's
    rules: `{"utterance_ends", "joke_ends", "emotion_changes"}`, lists of seconds on the words' clock (the
    `DyadicClip` fields of the same names shifted by the segment's start, those up to its end).
    Segments last `min_frames`-`max_frames` frames; each pairs one of `num_speakers` speakers (speaker `k` speaks
    with `voices[k % len(voices)]`) with one of `num_listeners` listeners (the same listeners in every split).
    Everything follows from `seed`.
    """
    import os

    import soundfile
    import torch

    counts = {"train": num_train, "val": num_val, "test": num_test}
    if any(count <= 0 for count in counts.values()):
        raise ValueError(f"every split needs at least one segment, got {counts}")
    if not 0 < min_frames <= max_frames:
        raise ValueError(f"need 0 < min_frames <= max_frames, got {min_frames}, {max_frames}")
    if not voices:
        raise ValueError("voices must name at least one voice")
    if codec is None:
        from ..processing.prosody_tokenizer import ProsodyTokenizer

        codec = ProsodyTokenizer()
    betas = identity_betas(num_listeners + num_speakers, seed=seed)
    listener_betas, speaker_betas = betas[:num_listeners], betas[num_listeners:]
    os.makedirs(out_dir, exist_ok=True)
    train_motion = []

    def finish(split: str, index: int, encoding, listener: int, speaker: int, voice: Voice, segments: list):
        clip = encoding.result()
        fname = f"synthetic/{split}/conversation_{index:04d}.mp4"
        soundfile.write(os.path.join(out_dir, MEDIA_DIR, os.path.splitext(fname)[0] + ".flac"),
                        pcm16(clip.audio), SAMPLE_RATE, subtype="PCM_16")
        segments.append(_segment(clip, fname, LEAD_FRAMES, listener_betas[listener], speaker_betas[speaker],
                                 f"listener_{listener}", voice.name, fps))  # fmt: skip
        if split == "train":
            train_motion.append(clip.listener_motion)

    # the draws (and eSpeak, which is not thread-safe) stay in this thread, in order; the codec, which holds
    # most of the time and releases the GIL in numpy, encodes the clips already drawn in a few threads
    workers = min(ENCODE_THREADS, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for split_index, (split, count) in enumerate(counts.items()):
            rng = np.random.default_rng([seed, split_index])
            os.makedirs(os.path.join(out_dir, MEDIA_DIR, "synthetic", split), exist_ok=True)
            segments, pending = [], deque()
            for index in range(count):
                listener, speaker = int(rng.integers(num_listeners)), int(rng.integers(num_speakers))
                num_frames = int(rng.integers(min_frames, max_frames + 1))
                voice = voices[speaker % len(voices)]
                clip = sample_dyadic_clip(
                    num_frames, speaker_betas[speaker], listener_betas[listener], rng, fps=fps,
                    lead_frames=LEAD_FRAMES, voice=voice, with_codes=False,
                )  # fmt: skip
                pending.append((split, index, pool.submit(with_speech_codes, clip, codec, fps), listener, speaker, voice))
                if len(pending) > 2 * workers:  # bounded: a few clips' audio in memory at a time
                    finish(*pending.popleft(), segments)
            while pending:
                finish(*pending.popleft(), segments)
            torch.save(segments, os.path.join(out_dir, f"segments_{split}.pth"))
    frames = np.concatenate(train_motion).astype(np.float64)
    np.save(os.path.join(out_dir, "mean.npy"), frames.mean(axis=0).astype(np.float32))
    np.save(os.path.join(out_dir, "std.npy"), frames.std(axis=0).astype(np.float32))
    return out_dir
