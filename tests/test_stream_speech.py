"""The live listener on synthesized speech: `ListenerStream.push_audio` with the demo's processor (weight-free
prosody tokens from the audio, words from local agreement over a recogniser that knows the script) reacts to what
is said and how: other speech or the same words without their sound give other listener motion, and the streamed
listener is the offline one of the same recording."""

import numpy as np
import pytest
import torch

from mmlistener import ListenerForCausalLM
from mmlistener.heldout import speak_script
from mmlistener.modeling.constants import NEUTRAL
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.processing import KnownWords
from mmlistener.processing.incremental_asr import LocalAgreementASR
from mmlistener.runs import load_pipeline
from mmlistener.streaming import ListenerStream

RATE = 16_000
PROBE = 256  # samples that locate a buffer in the recording (its noise floor makes them unique)


class ScriptRecognizer:
    """Transcribes a buffer of a known recording: finds where the buffer starts in it, then returns the script's
    words that lie wholly inside the buffer, with times from the buffer's start, each moved by up to 30 ms, another
    way at every call (as a real ASR moves a word's times between two transcriptions)."""

    def __init__(self, recording):
        self.audio, self.words = recording.audio, recording.words
        self.windows = np.lib.stride_tricks.sliding_window_view(self.audio, PROBE)
        self.calls = 0

    def transcribe(self, buffer: np.ndarray) -> list[dict]:
        if len(buffer) < PROBE:
            return []
        (starts,) = np.nonzero((self.windows == buffer[:PROBE]).all(axis=1))
        assert len(starts) == 1, "the buffer is not a unique piece of the recording"
        start, end = starts[0] / RATE, (starts[0] + len(buffer)) / RATE
        self.calls += 1
        jitter = np.random.default_rng(self.calls).uniform(-0.03, 0.03, size=len(self.words))
        return [{"text": w["text"], "start": max(0.0, w["start"] - start + shift),
                 "end": min(end - start, w["end"] - start + shift)}
                for w, shift in zip(self.words, jitter) if w["start"] >= start and w["end"] <= end]  # fmt: skip


@pytest.fixture(scope="module")
def parts(small_demo):
    """The small demo's processor (prosody tokens) and VQ-VAE with an untrained LM of its layout (the 20-step LM of
    the small demo picks one code whatever it reads), and a test listener's beta."""
    from datasets import load_from_disk

    _, _, out = small_demo
    _, processor, trained = load_pipeline(out / "lm_stage2", IdentityVQVAE.from_pretrained(str(out / "vqvae")))
    torch.manual_seed(0)
    model = ListenerForCausalLM(trained.model.config).eval()
    beta = np.asarray(load_from_disk(str(out / "dataset"))["test"][0]["listener_identity"], dtype=np.float32)
    return model, processor, trained.vqvae, beta


def stream_listener(parts, recording, modalities=None, chunk: int = 2_000):
    """Listener frames `(T, 56)` of `recording` pushed in `chunk`-sample pieces, and the stream's codes."""
    model, processor, vqvae, beta = parts
    kept = processor.modalities
    processor.modalities = tuple(modalities or kept)
    try:
        asr = None
        if "words" in processor.modalities:
            asr = LocalAgreementASR(ScriptRecognizer(recording), update_seconds=0.5, vad=False)
        with ListenerStream(model, processor, vqvae, beta, asr=asr) as stream:
            audio = recording.audio
            frames = [stream.push_audio(audio[first : first + chunk], RATE) for first in range(0, len(audio), chunk)]
            frames.append(stream.finish())
            return np.concatenate(frames), list(stream.codes)
    finally:
        processor.modalities = kept


@pytest.fixture(scope="module")
def recordings():
    return speak_script(10.0, seed=21), speak_script(10.0, seed=22)


def test_the_stream_hears_the_words_and_the_sound(parts, recordings):
    script, other = recordings
    heard, codes = stream_listener(parts, script)
    group = parts[1].group_size
    assert heard.shape == (-(-len(script.audio) * 30 // RATE // group) * group, 56)  # whole groups: the last closed
    assert len(set(codes)) > 1
    # other speech gives another listener; so does the same speech without its sound, or without its words
    assert np.abs(heard - stream_listener(parts, other)[0]).max() > 1e-3
    no_sound = [name for name in parts[1].modalities if name != "acoustic"]
    assert np.abs(heard - stream_listener(parts, script, no_sound)[0]).max() > 1e-3
    no_words = [name for name in parts[1].modalities if name != "words"]
    assert np.abs(heard - stream_listener(parts, script, no_words)[0]).max() > 1e-3


def test_the_stream_is_the_offline_listener_of_the_same_recording(parts, recordings):
    """Without words (their confirmation times are the live path's own), streamed audio gives the codes the
    processor computes from the whole recording with Neutral emotion ids (a processor that does not omit them)."""
    model, processor, vqvae, beta = parts
    script, _ = recordings
    acoustic_only = [name for name in processor.modalities if name != "words"]
    kept = processor.modalities, processor.emotion_without_face
    processor.emotion_without_face = "neutral"
    try:
        _, streamed = stream_listener(parts, script, acoustic_only, chunk=1_111)
        processor.modalities, processor.asr = tuple(acoustic_only), KnownWords([])
        batch = processor(audio=script.audio, sampling_rate=RATE, emotion_ids=[NEUTRAL] * len(streamed),
                          num_frames=len(script.audio) * 30 // RATE, return_tensors="pt")  # fmt: skip
        offline = model.generate(**batch)[0].tolist()
    finally:
        processor.modalities, processor.emotion_without_face = kept
    assert len(streamed) == -(-len(script.audio) * 30 // RATE // processor.group_size) and streamed == offline


def test_a_model_trained_without_emotion_streams_a_faceless_voice_without_it(parts, recordings):
    """A processor with `emotion_without_face="omit"`: the streamed turn has no emotion blocks (the codes the same
    model generates for the recording's sequence without emotion, as the offline `listen` feeds it), not the
    Neutral ids a plain processor's stream feeds."""
    model, processor, vqvae, beta = parts
    script, _ = recordings
    acoustic_emotion = [name for name in processor.modalities if name != "words"]
    kept = processor.emotion_without_face, processor.modalities
    try:
        processor.emotion_without_face = "neutral"
        _, neutral = stream_listener(parts, script, acoustic_emotion, chunk=1_111)
        processor.emotion_without_face = "omit"
        _, omitted = stream_listener(parts, script, acoustic_emotion, chunk=1_111)
        processor.modalities, processor.asr = ("acoustic",), KnownWords([])
        batch = processor(audio=script.audio, sampling_rate=RATE, num_frames=len(script.audio) * 30 // RATE,
                          return_tensors="pt")  # fmt: skip
        offline = model.generate(**batch)[0].tolist()
    finally:
        processor.emotion_without_face, processor.modalities = kept
    assert omitted == offline and omitted != neutral
