"""`listen` over recordings of any length: one continuous generation, seamless decoding, one frame per frame.

The models are tiny: a random GPT-2 listener with 256 positions (a 40 s recording makes 13x as many tokens, so
its window slides many times) and a VQ-VAE trained for a few steps on 64-frame crops of smooth motion, so that its
frames change little from one to the next and a seam between windows stands out, as it does with a trained one.
Its training length, 64 frames, is its decoding window: a 40 s recording spans 18 of them.
"""

import numpy as np
import pytest
import torch
from tiny_speech import tiny_codec
from transformers import GPT2Config

from mmlistener import (
    IdentityVQVAE,
    IdentityVQVAEConfig,
    ListenerConfig,
    ListenerForCausalLM,
    ListenerPipeline,
    ListenerProcessor,
)
from mmlistener.evaluation import seam_ratio
from mmlistener.listen import listen, recording_codes, recording_inputs
from mmlistener.long_decoding import decode_long
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

RATE, FPS = 16000, 30
POSITIONS = 256  # the listener's
WINDOW = 64  # frames per training crop of the VQ-VAE, and so per decoding window


class EnergyASR:
    """Stands in for Whisper: a word for each burst of the recording's energy (20 ms RMS above a third of its
    peak), timed on the burst, its text picked by the burst's length, so the words follow the recording."""

    WORDS = ("yeah", "so", "right", "okay", "well", "really", "no")

    def transcribe(self, audio):
        hop = RATE // 50
        frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
        loud = np.sqrt((frames**2).mean(axis=1)) > np.sqrt((frames**2).mean(axis=1)).max() / 3
        edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
        return [{"text": self.WORDS[(end - start) % len(self.WORDS)], "start": start / 50, "end": end / 50}
                for start, end in zip(edges[::2], edges[1::2])]  # fmt: skip


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced speech-like audio `(samples,)`: a gliding pitch's harmonics under syllables at 3-5 Hz, in phrases
    parted by pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(150 + 30 * np.sin(2 * np.pi * 0.7 * t)) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + 2 * np.sin(2 * np.pi * 0.3 * t))) ** 2
    phrases = np.repeat(rng.random(int(seconds) + 1) > 0.25, RATE)[: len(t)]
    return (0.3 * voice * syllables * phrases).astype(np.float32)


def smooth_motion(rng, frames: int) -> np.ndarray:
    """Motion `(frames, 56)`: a slow sinusoid per value (0.1-0.6 Hz), as a listener's face moves."""
    t = np.arange(frames)[:, None] / FPS
    frequency, phase, amplitude = rng.uniform(0.1, 0.6, 56), rng.uniform(0, 2 * np.pi, 56), rng.uniform(0.02, 0.2, 56)
    return (amplitude * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)


@pytest.fixture(scope="module")
def pipeline():
    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=16, n_head=2, n_positions=POSITIONS)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=16)
    processor = ListenerProcessor.from_listener_config(tokenizer, config, asr=EnergyASR(), acoustic_codec=tiny_codec())
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(hidden_size=16, codebook_dim=16, codebook_size=16, num_residual_layers=1))
    optimizer, rng = torch.optim.Adam(vqvae.parameters(), lr=5e-3), np.random.default_rng(0)
    for _ in range(100):  # enough for smooth frames
        motion = torch.from_numpy(np.stack([smooth_motion(rng, WINDOW) for _ in range(8)]))
        optimizer.zero_grad()
        vqvae(motion, identity=torch.randn(8, 100)).loss.backward()
        optimizer.step()
    return ListenerPipeline(ListenerForCausalLM(config), processor, vqvae)


@pytest.fixture(scope="module")
def recording(pipeline):
    """A 40 s recording, the listener's beta and the motion `listen` makes of it."""
    audio, beta = speech(40.0), np.random.default_rng(1).standard_normal(100).astype(np.float32)
    return audio, beta, listen(pipeline, audio, beta, window_frames=WINDOW)


def one_clip_codes(pipeline, audio: np.ndarray) -> tuple[torch.LongTensor, int]:
    """`model.generate` over the whole recording as one processor clip, built here from the front ends: the codes
    `(1, groups)` and the sequence's length in tokens."""
    processor = pipeline.processor
    frames = len(audio) * FPS // RATE
    _, acoustic = processor.acoustic_codec.encode(audio)
    emotion = [0] * processor.num_groups(frames)
    batch = processor(words=processor.asr.transcribe(audio), acoustic_codes=acoustic, emotion_ids=emotion,
                      num_frames=frames, return_tensors="pt")  # fmt: skip
    return pipeline.model.generate(**batch), batch["input_ids"].shape[1]


def per_window_motion(vqvae, codes: torch.LongTensor, beta: np.ndarray) -> np.ndarray:
    """The former decoding: each window of `WINDOW // 8` codes on its own, joined."""
    identity, size = torch.from_numpy(beta)[None], WINDOW // 8
    windows = [vqvae.decode(codes[:, s : s + size], identity=identity).motion for s in range(0, codes.shape[1], size)]
    return torch.cat(windows, dim=1)[0].numpy()


def test_no_seam_at_the_former_window_borders(pipeline, recording):
    audio, beta, motion = recording
    codes, _ = one_clip_codes(pipeline, audio)
    former = per_window_motion(pipeline.vqvae, codes, beta)
    assert seam_ratio(former, WINDOW) > 5  # the twitch this test guards against
    assert seam_ratio(motion, WINDOW) < 1.5
    assert seam_ratio(motion, WINDOW // 2) < 1.5  # nor where the overlapping decoder windows start and end


def test_listen_beyond_the_positions_picks_the_codes_of_generate_over_the_one_clip(pipeline, recording):
    audio, beta, motion = recording
    codes, tokens = one_clip_codes(pipeline, audio)
    assert tokens > 10 * POSITIONS and len(set(codes[0].tolist())) > 3
    frames = len(audio) * FPS // RATE
    inputs = recording_inputs(pipeline.processor, audio, frames)
    assert torch.equal(recording_codes(pipeline, inputs), codes)
    expected = decode_long(pipeline.vqvae, codes, torch.from_numpy(beta)[None], WINDOW // 8)[0, :frames].numpy()
    np.testing.assert_array_equal(motion, expected)


def test_a_model_trained_without_emotion_hears_a_faceless_recording_without_it(pipeline):
    audio, beta = speech(12.0, seed=3), np.zeros(100, dtype=np.float32)
    processor = pipeline.processor
    frames = len(audio) * FPS // RATE
    _, acoustic = processor.acoustic_codec.encode(audio)
    without_emotion = ListenerProcessor.from_listener_config(
        processor.tokenizer, pipeline.model.config, modalities=("words", "acoustic"), asr=processor.asr,
        acoustic_codec=processor.acoustic_codec,
    )  # fmt: skip
    batch = without_emotion(words=processor.asr.transcribe(audio), acoustic_codes=acoustic, num_frames=frames,
                            return_tensors="pt")  # fmt: skip
    expected = decode_long(pipeline.vqvae, pipeline.model.generate(**batch), torch.from_numpy(beta)[None], WINDOW // 8)
    neutral = listen(pipeline, audio, beta, window_frames=WINDOW)
    processor.emotion_without_face = "omit"
    try:
        omitted = listen(pipeline, audio, beta, window_frames=WINDOW)
    finally:
        processor.emotion_without_face = "neutral"
    np.testing.assert_array_equal(omitted, expected[0, :frames].numpy())  # the sequence without emotion blocks
    assert not np.array_equal(omitted, neutral)
    with pytest.raises(ValueError, match="emotion_without_face must be one of"):
        ListenerProcessor(processor.tokenizer, emotion_without_face="drop")


def test_the_speech_changes_the_codes(pipeline):
    first, _ = one_clip_codes(pipeline, speech(12.0, seed=0))
    second, _ = one_clip_codes(pipeline, speech(12.0, seed=3))
    assert not torch.equal(first, second)


@pytest.mark.parametrize("frames", [9, 16, 239, 241, 248, 249, 250, 601])
def test_one_motion_frame_per_frame_of_the_recording(pipeline, frames):
    audio = speech(frames / FPS + 0.01)
    assert len(audio) * FPS // RATE == frames
    motion = listen(pipeline, audio, np.zeros(100))
    assert motion.shape == (frames, 56) and motion.dtype == np.float32 and np.isfinite(motion).all()


def test_too_short_recordings_and_windows_are_named(pipeline):
    with pytest.raises(ValueError, match="too short"):
        listen(pipeline, speech(8.5 / FPS), np.zeros(100))  # 8 frames: one code, which cannot be decoded alone
    with pytest.raises(ValueError, match="window_frames=15"):
        listen(pipeline, speech(2.0), np.zeros(100), window_frames=15)
