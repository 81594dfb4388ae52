"""Another frame rate and group size end to end: an LM, its processor and a VQ-VAE at 25 fps in groups of 4 frames
stream live audio into the codes offline generation gives, with the codec's blocks on the processor's groups; parts
that disagree on the timing are refused by name."""

import numpy as np
import pytest
import torch
from test_listener_model import listener_config, text_tokenizer
from test_streaming_audio import codec, speaker_audio  # noqa: F401 (a tiny SpeechTokenizer of 8 codes a level)

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig, ListenerForCausalLM, ListenerProcessor
from mmlistener.modeling.constants import NEUTRAL
from mmlistener.processing.streaming_codes import block_end, sliding_window_encode
from mmlistener.processing.streams import code_frames
from mmlistener.streaming import ListenerStream

FPS, GROUP, RATE = 25, 4, 16_000


def timed_model(fps: int = FPS, group_size: int = GROUP) -> ListenerForCausalLM:
    torch.manual_seed(0)
    config = listener_config(initializer_range=0.3)
    config.fps, config.group_size = fps, group_size
    return ListenerForCausalLM(config).eval()


def timed_vqvae(downsample_rate: int = GROUP) -> IdentityVQVAE:
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=1,
                                 downsample_rate=downsample_rate)  # fmt: skip
    return IdentityVQVAE(config).eval()


@pytest.fixture(scope="module")
def parts(codec):  # noqa: F811
    model = timed_model()
    processor = ListenerProcessor.from_listener_config(
        text_tokenizer(), model.config, modalities=("acoustic", "emotion"), acoustic_codec=codec
    )
    return model, processor, timed_vqvae()


def test_the_code_streamer_cuts_blocks_at_the_processor_groups(parts):
    _, processor, _ = parts
    streamer = processor.code_streamer(window_seconds=1.0, right_context_seconds=0.1)
    assert streamer.hop == pytest.approx(50 * GROUP / FPS)  # 8 codes: one group of 4 frames at 25 fps
    for block in range(20):
        last = block_end(block, streamer.hop) - 1  # the block reaches a later group's frames, by one code at most
        assert code_frames(last, FPS, 50) >= (block + 1) * GROUP >= code_frames(last - 1, FPS, 50)


def test_streamed_audio_gives_the_offline_codes_at_another_frame_rate(parts):
    model, processor, vqvae = parts
    audio = speaker_audio(2.4)  # 60 frames at 25 fps: 15 groups of 4
    with ListenerStream(model, processor, vqvae, np.ones(100)) as stream:
        outputs = [stream.push_audio(audio[first : first + 1_000], RATE) for first in range(0, len(audio), 1_000)]
        outputs.append(stream.finish())
    assert sum(len(frames) for frames in outputs) == 60
    _, acoustic = sliding_window_encode(processor.acoustic_codec, audio, processor.group_seconds, 1.0, 0.2)
    batch = processor(acoustic_codes=acoustic, emotion_ids=[NEUTRAL] * 15, num_frames=60, return_tensors="pt")
    assert stream.codes == model.generate(**batch)[0].tolist()
    assert len(set(stream.codes)) > 1


def test_parts_that_disagree_on_the_timing_are_refused_by_name(parts):
    model, processor, vqvae = parts
    at_30 = ListenerProcessor.from_listener_config(text_tokenizer(), timed_model(fps=30).config)
    with pytest.raises(ValueError, match="25 fps but its processor at 30"):
        ListenerStream(model, at_30, vqvae, np.ones(100))
    with pytest.raises(ValueError, match="frames per code: model 4, processor 4, VQ-VAE 8"):
        ListenerStream(model, processor, timed_vqvae(downsample_rate=8), np.ones(100))
    with pytest.raises(ValueError, match="example 0 is at 30 fps but the processor expects 25"):
        processor.encode_examples([{"fps": 30, "num_frames": 8, "emotion_ids": [0, 0]}])
