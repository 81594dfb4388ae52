"""A voice the model never heard: the synthetic corpus's rules, spoken by a held-out voice, through the raw-audio path.

`speak_script` samples a new recording by the corpus's rules (new sentences of its lexicon, a new emotion chain)
in `HELDOUT_VOICE`, a voice and speaking rate no corpus speaker has, and keeps the ground-truth events (utterance
ends, joke words, emotion changes). `heldout_voice_report` runs it through `mmlistener.listen` (the code of
`mmlistener-listen`: the audio in, the acoustic tokens computed from it, words from the synthesis's transcript or
an ASR), scores the listener with the package's event detectors, does the same for a control recording whose joke
words are neutral words (laughs must fall), and sets the same model's rates on the corpus's test split beside
them (`bench/heldout_voice.py` prints it).
"""

from dataclasses import dataclass

import numpy as np

from .data.speech_synthesis import HELDOUT_VOICE, Voice
from .data.synthetic import sample_dyadic_clip
from .data.windowing import group_labels
from .modeling.constants import FPS, GROUP_SIZE, IDENTITY_DIM, NUM_EMOTIONS


@dataclass
class SpokenScript:
    """A synthetic speaker recording with its ground truth.

    Attributes:
        audio (`np.ndarray` of shape `(samples,)`): 16 kHz speech from frame 0.
        words (`list[dict]`): the synthesis's transcript, `{"text", "start", "end"}` in seconds.
        events (`dict`): `utterance_ends`, `joke_ends`, `emotion_changes` (seconds), as dataset windows carry them.
        emotion_ids (`list[int]`): the speaker's true emotion per group of 8 frames.
    """

    audio: np.ndarray
    words: list
    events: dict
    emotion_ids: list

    def example(self) -> dict:
        """The recording as an `event_rates` example (its events and emotion ids)."""
        return {"events": self.events, "emotion_ids": self.emotion_ids}


def speak_script(seconds: float, seed: int, voice: Voice = HELDOUT_VOICE, jokes_spoken: bool = True,
                 codec=None) -> SpokenScript:
    """A recording of `seconds` by the corpus's rules in `voice` (seeded; `jokes_spoken=False`: the control of
    the same draws, a neutral word for each joke word and so no joke events)."""
    num_frames = round(seconds * FPS)
    beta = np.zeros(IDENTITY_DIM)
    clip = sample_dyadic_clip(num_frames, beta, beta, np.random.default_rng(seed), fps=FPS, lead_frames=0,
                              voice=voice, codec=codec, jokes_spoken=jokes_spoken)  # fmt: skip
    events = {"utterance_ends": clip.utterance_ends, "joke_ends": clip.joke_ends,
              "emotion_changes": clip.emotion_changes}  # fmt: skip
    emotion_ids = group_labels(clip.speaker_emotion, GROUP_SIZE, NUM_EMOTIONS)
    return SpokenScript(audio=clip.audio, words=clip.words, events=events, emotion_ids=emotion_ids)


def _listen_to(pipeline, script: SpokenScript, identity, asr=None) -> np.ndarray:
    """The listener's raw motion `(frames, 56)` for `script` through `mmlistener.listen`."""
    from .listen import listen
    from .processing.asr import KnownWords

    processor = pipeline.processor
    own_asr = processor._asr  # put back afterwards: the caller's processor keeps its recogniser
    if "words" in processor.modalities:
        processor.asr = KnownWords(script.words) if asr is None else asr
    try:
        return listen(pipeline, script.audio, identity)  # no speaker face: Neutral emotion, or none (emotion_without_face)
    finally:
        processor.asr = own_asr


def heldout_scripts(seconds: float = 120.0, seed: int = 2026, voice: Voice = HELDOUT_VOICE) -> dict:
    """`{"heldout": recording, "control": its control}`: the two `speak_script`s of `recording_rates`."""
    return {name: speak_script(seconds, seed, voice, jokes_spoken=jokes)
            for name, jokes in (("heldout", True), ("control", False))}  # fmt: skip


def recording_rates(pipeline, identity, scripts: dict, asr=None) -> dict:
    """Event rates of the listener `identity` (`(IDENTITY_DIM,)`) on the recordings of `heldout_scripts` through
    `mmlistener.listen`: `{"heldout", "control", "control_at_recording_events"}` (`event_rates` dicts; see
    `heldout_voice_report`)."""
    from .evaluation import event_rates

    identity = np.asarray(identity, dtype=np.float32)
    fps = pipeline.processor.fps
    motions = {name: _listen_to(pipeline, script, identity, asr) for name, script in scripts.items()}
    rates = {name: event_rates([motions[name]], [scripts[name].example()], fps=fps) for name in scripts}
    rates["control_at_recording_events"] = event_rates([motions["control"]], [scripts["heldout"].example()], fps=fps)
    return rates


def heldout_voice_report(pipeline, test_windows: list[dict], seconds: float = 120.0, seed: int = 2026,
                         voice: Voice = HELDOUT_VOICE, asr=None) -> dict:
    """Event rates of the listener on a held-out voice, on its control recording and on the test split.

    Args:
        pipeline ([`ListenerPipeline`]): the model, its processor (its `acoustic_codec` makes the tokens from the
            audio) and the VQ-VAE.
        test_windows (`list[dict]`): the corpus's test windows (with `events`), for the same model's rates there.
        seconds, seed, voice: the held-out recording (see `speak_script`).
        asr (*optional*): a recogniser for the words; by default the synthesis's own transcript (`KnownWords`).
        The recording is audio only (no speaker face), so its emotion ids are Neutral, as in `mmlistener-listen`
        without `--speaker_motion`; the test split has the speaker's true emotion ids.

    Returns:
        `{"heldout": rates, "control": rates, "control_at_recording_events": rates, "test": rates}`
        (`event_rates` dicts), the listener identity being the first test window's. `control_at_recording_events`
        scores the control's motion against the held-out recording's own events (the control shares its draws,
        so its former joke words sit at the recording's joke times): its laugh hit rate is the share of those
        places where the control still laughs, its laugh false alarms the control's laughs elsewhere.
    """
    from .evaluation import event_rates

    scripts = heldout_scripts(seconds, seed, voice)
    report = recording_rates(pipeline, test_windows[0]["listener_identity"], scripts, asr)
    report["test"] = event_rates(pipeline.predict(test_windows), test_windows, fps=pipeline.processor.fps)
    return report


def transfer_targets(report: dict) -> dict[str, tuple[bool, str]]:
    """The issue's transfer targets, each `(met, "value against target")`: event rates on the held-out voice,
    laughs on the control, and each rate within 0.1 of the test split's."""
    heldout, control, test = report["heldout"], report["control"], report["test"]
    checks = {
        "nod hit >= 0.6": (heldout["nod_hit_rate"], lambda v: v >= 0.6),
        "nod false alarms <= 0.4": (heldout["nod_false_alarm_rate"], lambda v: v <= 0.4),
        "laugh hit >= 0.5": (heldout["laugh_hit_rate"], lambda v: v >= 0.5),
        "laugh false alarms <= 0.4": (heldout["laugh_false_alarm_rate"], lambda v: v <= 0.4),
    }
    targets = {name: (bool(test_(value)), f"{value:.3f}") for name, (value, test_) in checks.items()}
    laughs, control_laughs = heldout["num_laughs"], control["num_laughs"]
    targets["control laughs <= 1/3 of the recording's"] = (
        control_laughs * 3 <= laughs and laughs > 0, f"{control_laughs} against {laughs}"
    )
    from .evaluation.events import EVENT_COLUMNS

    for key, _ in EVENT_COLUMNS:
        gap = abs(heldout[key] - test[key])
        targets[f"{key} within 0.1 of the test split"] = (bool(gap <= 0.1), f"{heldout[key]:.3f} vs {test[key]:.3f}")
    return targets


__all__ = ["SpokenScript", "heldout_scripts", "heldout_voice_report", "recording_rates", "speak_script",
           "transfer_targets"]
