"""ListenerStream: a clip streamed with its features gives the offline `generate` codes; frames per group; errors."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_listener_model import TEXT_VOCAB, listener_config, text_tokenizer

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig, ListenerForCausalLM
from mmlistener.processing.processing_listener import ListenerProcessor
from mmlistener.streaming import ListenerStream, StreamingDecoder

RATE, FPS, GROUP = 50, 30, 8


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ListenerForCausalLM(listener_config(initializer_range=0.3)).eval()


@pytest.fixture(scope="module")
def short_model():
    """A backbone of 64 positions: a clip of a few groups already slides the window."""
    torch.manual_seed(2)
    return ListenerForCausalLM(listener_config(n_positions=64, initializer_range=0.3)).eval()


@pytest.fixture(scope="module")
def vqvae():
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=1)
    return IdentityVQVAE(config).eval()


def processor_of(model, **kwargs) -> ListenerProcessor:
    return ListenerProcessor.from_listener_config(text_tokenizer(), model.config, **kwargs)


def make_clip(num_groups: int, seed: int) -> dict:
    """Random features of a clip of whole groups: words (some ending on group boundaries and on the clip's end),
    history words, acoustic codes ending within the clip, one emotion id per group."""
    rng = np.random.default_rng(seed)
    seconds = num_groups * GROUP / FPS
    ends = [*rng.uniform(0.01, seconds, size=2 * num_groups), GROUP / FPS, 3 * GROUP / FPS, seconds]
    return {
        "words": [{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": float(end)} for end in ends],
        "history_words": [{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": -0.3 * k} for k in (3, 2, 1)],
        "acoustic_codes": rng.integers(32, size=math.floor(seconds * RATE)).tolist(),
        "emotion_ids": rng.integers(4, size=num_groups).tolist(),
        "num_frames": num_groups * GROUP,
    }


def offline_codes(model, processor, clip) -> list[int]:
    batch = processor(**clip, return_tensors="pt")
    return model.generate(**batch)[0].tolist()


def stream_clip(stream, clip) -> list[np.ndarray]:
    """Push the clip as it would arrive live, one acoustic code (20 ms) at a time with the words ending by then
    and the emotion of each group that has started; then finish. The frames returned by each call."""
    words = sorted(clip["words"], key=lambda word: word["end"])
    codes, emotion = clip["acoustic_codes"], clip["emotion_ids"]
    outputs, word_index, emotion_index = [], 0, 0
    for k, code in enumerate(codes):
        now = (k + 1) / RATE
        new_words = []
        while word_index < len(words) and words[word_index]["end"] <= now + 1e-9:
            new_words.append(words[word_index])
            word_index += 1
        started = min(len(emotion), math.ceil(now * FPS / GROUP - 1e-9))
        outputs.append(
            stream.push_features(words=new_words, acoustic_codes=[code], emotion_ids=emotion[emotion_index:started])
        )
        emotion_index = started
    outputs.append(stream.push_features(words=words[word_index:], emotion_ids=emotion[emotion_index:]))
    outputs.append(stream.finish())
    return outputs


@pytest.mark.parametrize("num_groups, seed", [(6, 0), (5, 1), (9, 2)])
def test_a_streamed_clip_gives_the_offline_codes(model, vqvae, num_groups, seed):
    processor = processor_of(model)
    clip = make_clip(num_groups, seed)
    stream = ListenerStream(model, processor, vqvae, np.zeros(100), history_words=clip["history_words"])
    outputs = stream_clip(stream, clip)
    assert stream.codes == offline_codes(model, processor, clip)
    assert len(set(stream.codes)) > 1
    assert sum(len(frames) for frames in outputs) == num_groups * GROUP


def test_a_guided_stream_gives_the_offline_guided_codes(model, vqvae):
    processor = processor_of(model)
    clip = make_clip(7, 6)
    stream = ListenerStream(model, processor, vqvae, np.zeros(100), history_words=clip["history_words"],
                            guidance_scale=3.0)  # fmt: skip
    stream_clip(stream, clip)
    guided = model.generate(**processor(**clip, return_tensors="pt"), guidance_scale=3.0)[0].tolist()
    assert stream.codes == guided
    assert guided != offline_codes(model, processor, clip)


def test_the_sliding_window_streams_like_generate(short_model, vqvae):
    processor = processor_of(short_model)
    clip = make_clip(12, 3)
    stream = ListenerStream(short_model, processor, vqvae, np.zeros(100), history_words=clip["history_words"])
    stream_clip(stream, clip)
    assert stream._run.starts[0] > 0  # the window slid
    assert stream.codes == offline_codes(short_model, processor, clip)


def test_frames_come_out_as_each_group_completes(model, vqvae):
    clip = make_clip(4, 4)
    codes, emotion = clip["acoustic_codes"], clip["emotion_ids"]
    stream = ListenerStream(model, processor_of(model), vqvae, np.ones(100))
    group_end = [math.floor((g + 1) * GROUP / FPS * RATE) for g in range(4)]  # codes ending by each group's end
    assert stream.push_features(acoustic_codes=codes[: group_end[0]], emotion_ids=emotion[:2]).shape == (0, 56)
    assert stream.codes == []  # group 0 closes only once a code ends after it
    assert stream.push_features(acoustic_codes=codes[group_end[0] : group_end[0] + 1]).shape == (0, 56)
    assert len(stream.codes) == 1  # closed, but one code alone cannot be decoded (AdaIN over time)
    assert stream.push_features(acoustic_codes=codes[group_end[0] + 1 : group_end[1] + 1]).shape == (16, 56)
    frames = stream.push_features(acoustic_codes=codes[group_end[1] + 1 : group_end[2] + 1], emotion_ids=emotion[2:])
    assert frames.shape == (8, 56) and frames.dtype == np.float32 and len(stream.codes) == 3
    assert stream.finish().shape == (8, 56) and len(stream.codes) == 4


def test_reset_gives_the_same_turn_again(model, vqvae):
    clip = make_clip(5, 5)
    stream = ListenerStream(model, processor_of(model), vqvae, np.ones(100), history_words=clip["history_words"])
    first, codes = np.concatenate(stream_clip(stream, clip)), stream.codes
    stream.reset(history_words=clip["history_words"])
    assert stream.codes == []
    second = np.concatenate(stream_clip(stream, clip))
    assert stream.codes == codes and np.array_equal(first, second)


def test_streaming_decode_emits_the_newest_codes_frames_once(vqvae):
    identity = torch.randn(100)
    codes = torch.randint(16, (7,)).tolist()
    decoder = StreamingDecoder(vqvae, identity, look_back=3)
    frames = [decoder.push(code) for code in codes]
    assert [len(f) for f in frames] == [0, 16, 8, 8, 8, 8, 8]
    whole = vqvae.decode(torch.tensor([codes[:2]]), identity=identity[None]).motion[0].numpy()
    assert np.allclose(frames[1], whole, atol=1e-5)
    window = vqvae.decode(torch.tensor([codes[3:6]]), identity=identity[None]).motion[0, -8:].numpy()
    assert np.allclose(frames[5], window, atol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        StreamingDecoder(vqvae, identity, look_back=1)


class FrameEmotion:
    """A stand-in emotion recogniser: per-frame class probabilities from the first 4 motion values."""

    def predict_from_motion(self, motion, shape):
        logits = torch.as_tensor(np.asarray(motion)[:, :4] + np.asarray(shape)[:4])
        return SimpleNamespace(probabilities=torch.softmax(logits, dim=-1))


def test_emotion_from_speaker_frames_pushed_in_any_chunks(model, vqvae):
    processor = processor_of(model, emotion_recognizer=FrameEmotion())
    clip = make_clip(5, 6)
    rng = np.random.default_rng(0)
    motion, shape = rng.normal(size=(clip["num_frames"], 56)).astype(np.float32), rng.normal(size=100)
    offline = {**clip, "emotion_ids": None, "speaker_motion": motion, "speaker_shape": shape}
    stream = ListenerStream(model, processor, vqvae, np.ones(100), speaker_shape=shape,
                            history_words=clip["history_words"])  # fmt: skip
    stream.push_features(words=clip["words"], acoustic_codes=clip["acoustic_codes"])
    for start in range(0, len(motion), 5):
        stream.push_speaker_frames(motion[start : start + 5])
    stream.finish()
    assert stream.codes == offline_codes(model, processor, offline)


def test_a_late_word_enters_the_open_group(model, vqvae):
    processor = processor_of(model)
    stream = ListenerStream(model, processor, vqvae, np.ones(100))
    stream.push_features(acoustic_codes=[1] * 20, emotion_ids=[0, 0, 0])  # group 0 closes (0.4 s > 0.267 s)
    assert len(stream.codes) == 1
    stream.push_features(words=[{"text": "w7", "end": 0.1}], acoustic_codes=[1] * 10)  # confirmed at 0.6 s
    assert len(stream.codes) == 2
    prefixes = stream._run.samples[0].prefixes
    assert 7 not in prefixes[0].tolist() and 7 in prefixes[1].tolist()


def test_bad_inputs_are_refused(model, vqvae):
    processor = processor_of(model)
    stream = ListenerStream(model, processor, vqvae, np.ones(100))
    with pytest.raises(ValueError, match="history_words"):
        stream.push_features(words=[{"text": "w1", "end": -0.2}])
    with pytest.raises(ValueError, match=r"emotion_ids must lie in \[0, 4\)"):
        stream.push_features(acoustic_codes=[1, 2], emotion_ids=[9])
    assert stream.inputs.codes["acoustic"] == []  # nothing of a refused push is kept
    with pytest.raises(ValueError, match="not both"):
        stream.push_features(emotion_ids=[1], speaker_motion=np.zeros((8, 56)))
    with pytest.raises(ValueError, match="drift apart"):  # codes at 75 / s pushed as 50 / s
        for _ in range(20):
            stream.push_features(acoustic_codes=[3] * 20, emotion_ids=[1])
    with pytest.raises(ValueError, match="too few"):  # a turn of one group cannot be decoded
        stream.reset()
        stream.push_features(acoustic_codes=[1] * 10, emotion_ids=[1])
        stream.finish()
    with pytest.raises(ValueError, match="reset"):
        stream.push_features(acoustic_codes=[1])
    words_only = processor_of(model, modalities=("words",))
    with pytest.raises(ValueError, match="clock"):
        ListenerStream(model, words_only, vqvae, np.ones(100))


def test_a_causal_decoder_streams_exactly_what_decoding_the_whole_turn_gives():
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=1,
                                 causal_decoder=True)  # fmt: skip
    causal = IdentityVQVAE(config).eval()
    identity = torch.randn(100)
    codes = torch.randint(16, (12,)).tolist()
    decoder = StreamingDecoder(causal, identity, look_back=12)
    streamed = np.concatenate([decoder.push(code) for code in codes])
    whole = causal.decode(torch.tensor([codes]), identity=identity[None]).motion[0].numpy()
    assert np.allclose(streamed, whole, atol=1e-4)
