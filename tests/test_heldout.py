"""A held-out voice through the raw-audio path: the demo's model (prosody tokens, no checkpoint) on new speech."""

import numpy as np
import pytest
import torch
from datasets import load_from_disk

from mmlistener import ListenerForCausalLM, ListenerPipeline
from mmlistener.data.speech_synthesis import CORPUS_VOICES, HELDOUT_VOICE
from mmlistener.heldout import heldout_voice_report, speak_script, transfer_targets
from mmlistener.listen import listen
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.processing import KnownWords
from mmlistener.runs import load_pipeline


@pytest.fixture(scope="module")
def demo_pipeline(small_demo):
    _, _, out = small_demo
    _, processor, pipeline = load_pipeline(out / "lm_stage2", IdentityVQVAE.from_pretrained(str(out / "vqvae")))
    test = list(load_from_disk(str(out / "dataset"))["test"].with_format("numpy"))
    return pipeline, test


def test_held_out_script_is_new_speech_with_its_events():
    script, control = speak_script(20.0, seed=5), speak_script(20.0, seed=5, jokes_spoken=False)
    corpus_voice = speak_script(20.0, seed=5, voice=CORPUS_VOICES[0])
    assert HELDOUT_VOICE not in CORPUS_VOICES
    assert script.events["utterance_ends"] and script.events["joke_ends"] and not control.events["joke_ends"]
    assert len(script.emotion_ids) == -(-600 // 8)
    first, other = script.words[0], corpus_voice.words[0]  # the same first word, in another voice and rate
    assert first["text"] == other["text"] and abs((first["end"] - first["start"]) - (other["end"] - other["start"])) > 0.01


def test_known_words_stand_in_for_an_asr():
    words = [{"text": "so", "start": 0.1, "end": 0.4}, {"text": "late", "start": 1.9, "end": 2.2}]
    assert KnownWords(words).transcribe(np.zeros(32000, dtype=np.float32)) == words[:1]  # 2 s: the second ends later


def test_the_prosody_model_hears_a_recording_without_any_checkpoint(demo_pipeline):
    """The demo's processor (prosody tokens, no checkpoint) and VQ-VAE with an untrained LM of the same layout: the
    small demo's 20-step LM picks one code whatever it reads, so it could not show that the speech reaches it."""
    trained, test = demo_pipeline
    processor = trained.processor
    assert processor.acoustic_codec_type == "prosody" and processor.acoustic_codec_checkpoint is None
    torch.manual_seed(0)
    pipeline = ListenerPipeline(ListenerForCausalLM(trained.model.config).eval(), processor, trained.vqvae)
    script, other = speak_script(16.0, seed=9), speak_script(16.0, seed=10)
    beta = np.asarray(test[0]["listener_identity"], dtype=np.float32)

    def motion(recording, modalities=processor.modalities):
        kept, processor.modalities = processor.modalities, tuple(modalities)
        processor.asr = KnownWords(recording.words)
        try:
            return listen(pipeline, recording.audio, beta)
        finally:
            processor.modalities = kept

    heard = motion(script)
    assert heard.shape == (len(script.audio) * 30 // 16000, 56)
    # other words, pauses and sounds give other listener motion; so do the same words without their sound
    assert np.abs(heard - motion(other)).max() > 1e-3
    without_sound = motion(script, [name for name in processor.modalities if name != "acoustic"])
    assert np.abs(heard - without_sound).max() > 1e-3


def test_report_scores_the_held_out_voice_its_control_and_the_test_split(demo_pipeline):
    pipeline, test = demo_pipeline
    own_asr = pipeline.processor._asr
    report = heldout_voice_report(pipeline, test[:2], seconds=16.0, seed=3)
    assert pipeline.processor._asr is own_asr  # the caller's recogniser is put back
    assert report["heldout"]["num_utterance_ends"] > 0 and report["control"]["num_joke_ends"] == 0
    assert report["heldout"]["num_joke_ends"] > 0
    assert report["test"]["num_contagion_windows"] == 2
    # the control's own motion scored at the recording's events: the same laughs, the recording's jokes and ends
    at_events = report["control_at_recording_events"]
    assert at_events["num_laughs"] == report["control"]["num_laughs"]
    assert at_events["num_nods"] == report["control"]["num_nods"]
    assert at_events["num_joke_ends"] == report["heldout"]["num_joke_ends"]
    assert at_events["num_utterance_ends"] == report["heldout"]["num_utterance_ends"]
    targets = transfer_targets(report)
    assert len(targets) == 10 and all(isinstance(met, bool) for met, _ in targets.values())
    laughs = report["heldout"]["num_laughs"]
    assert targets["control laughs <= 1/3 of the recording's"][0] == (laughs > 0 and
                                                                     3 * report["control"]["num_laughs"] <= laughs)
