"""End-to-end latency of the live listener: audio in at real-time pace, listener frames out, fp32 and int8.

Everything is built from configs, nothing downloaded, at the sizes a live listener would use:
- the LM: a GPT-2-Medium-sized random backbone (24 layers, 1024 hidden) with the default modalities
  (words, acoustic codes, emotion), fp32 and its backbone quantized to int8;
- the ASR: a Whisper-base-sized model (openai-whisper `ModelDimensions` of base) that does a transcription's
  work on each buffer (log-mel, the encoder over 30 s, greedy decoding of the buffer's tokens with a KV cache,
  one alignment pass for the word times) and returns the clip's script words inside the buffer (a random
  model cannot transcribe), under `LocalAgreementASR` in a background thread;
- the acoustic codes: SpeechTokenizer at its released size, random weights, under `SlidingWindowCodes`;
- the decoder: an `IdentityVQVAE` of the default size.

A voiced, syllable-paced synthetic recording with a word every 0.35 s is fed in 20 ms chunks, each no earlier
than it would exist live (`mmlistener.streaming.realtime.feed`), once per scenario (`SCENARIOS`: the backbone,
the torch threads, which front ends run and their settings; a scenario without a front end gets its codes at no
cost, or has no words). Printed per scenario: the latency of each group's frames (from its audio being complete
to its frames out) p50 / p95 / max, the groups later than a group's duration (266.7 ms), and the median cost of
each stage (the LM step with decoding, one sliding-window encode, one transcription). Prints figures; asserts
nothing.

    .venv/bin/python bench/streaming.py [--seconds 12] [--layers 24] [--hidden 1024]
"""

import argparse
import copy
import os
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
from streaming_codes import CONFIG as SPEECHTOKENIZER_CONFIG  # bench/streaming_codes.py: the released size
from transformers import GPT2Config

from mmlistener import (
    IdentityVQVAE,
    IdentityVQVAEConfig,
    ListenerConfig,
    ListenerForCausalLM,
    ListenerProcessor,
)
from mmlistener.modeling.quantization import quantize_backbone
from mmlistener.processing import SpeechTokenizerCodes, gpt2_tokenizer_from_tiktoken
from mmlistener.processing.incremental_asr import LocalAgreementASR
from mmlistener.processing.streaming_codes import SlidingWindowCodes
from mmlistener.streaming import ListenerStream
from mmlistener.streaming.realtime import feed

RATE = 16_000
WHISPER_BASE = {
    "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 512, "n_audio_head": 8, "n_audio_layer": 6,
    "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 512, "n_text_head": 8, "n_text_layer": 6,
}  # fmt: skip
VOCABULARY = "yeah so I think that really works you know right because and the thing is".split()


def speech(seconds: float) -> np.ndarray:
    """A vowel-like voiced signal: harmonics of a gliding pitch under a 3 Hz syllable envelope."""
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(150 + 30 * np.sin(2 * np.pi * 0.7 * t)) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (0.3 * voice * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2).astype(np.float32)


class Timed:
    """Calls of `function`, timed (ms)."""

    def __init__(self, function):
        self.function, self.ms = function, []

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        result = self.function(*args, **kwargs)
        self.ms.append(1000 * (time.perf_counter() - started))
        return result

    def line(self, what: str) -> str:
        if not self.ms:
            return f"{what}: not called"
        p50, p95 = np.percentile(self.ms, [50, 95])
        return f"{what}: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(self.ms)} calls)"


class ScriptedWhisper:
    """A Whisper-base-sized transcription's work on each buffer; the words are the script's (see the docstring).

    Args:
        script (`list[tuple[str, float, float]]`): `(text, start, end)` of the recording's words.
    """

    def __init__(self, script):
        import whisper
        from whisper.model import ModelDimensions, Whisper
        from whisper.tokenizer import get_tokenizer

        self.whisper = whisper
        self.model = Whisper(ModelDimensions(**WHISPER_BASE)).eval()
        self.tokenizer = get_tokenizer(multilingual=False)
        self.script = script
        self.offset = 0.0  # the buffer's start in the recording (set by the bench, which knows it)

    @torch.inference_mode()
    def transcribe(self, audio: np.ndarray) -> list[dict]:
        start, end = self.offset, self.offset + len(audio) / RATE
        words = [(text, s - start, e - start) for text, s, e in self.script if s >= start and e <= end]
        mel = self.whisper.log_mel_spectrogram(self.whisper.pad_or_trim(torch.from_numpy(audio)))
        features = self.model.embed_audio(mel[None])
        tokens = list(self.tokenizer.sot_sequence_including_notimestamps)
        text_tokens = self.tokenizer.encode("".join(f" {text}" for text, _, _ in words))
        cache, hooks = self.model.install_kv_cache_hooks()
        try:
            self.model.decoder(torch.tensor([tokens]), features, kv_cache=cache)
            for token in [*text_tokens, self.tokenizer.eot]:
                self.model.decoder(torch.tensor([[token]]), features, kv_cache=cache)
        finally:
            for hook in hooks:
                hook.remove()
        self.model.decoder(torch.tensor([tokens + text_tokens]), features)  # the alignment pass
        return [{"text": text, "start": s, "end": e} for text, s, e in words]


class ScriptedFasterWhisper:
    """A Whisper-base-sized CTranslate2 model under faster-whisper (int8, `cpu_threads` threads) doing a
    transcription's work on each buffer (its decoder made to emit as many tokens as the buffer's script words
    take); the words are the script's, as for `ScriptedWhisper`."""

    def __init__(self, script, folder: str, cpu_threads: int = 1):
        from faster_whisper import WhisperModel

        from mmlistener.processing.asr import FasterWhisperASR

        model = WhisperModel(build_faster_whisper(folder), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        self.asr = FasterWhisperASR(model, temperature=0.0, without_timestamps=True, beam_size=1)
        self.script, self.offset = script, 0.0

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        start, end = self.offset, self.offset + len(audio) / RATE
        words = [(text, s - start, e - start) for text, s, e in self.script if s >= start and e <= end]
        self.asr.transcribe_kwargs["max_new_tokens"] = max(1, round(1.3 * len(words)))
        self.asr.transcribe(audio)
        return [{"text": text, "start": s, "end": e} for text, s, e in words]


def build_faster_whisper(folder: str) -> str:
    """A random Whisper-base-sized model converted to CTranslate2 in `folder` (kept for reruns); its decoder
    always prefers one word, so that decoding runs to `max_new_tokens`."""
    import json
    from pathlib import Path

    import ctranslate2
    import whisper.tokenizer
    from transformers import WhisperConfig, WhisperForConditionalGeneration
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from mmlistener.processing.tokenizer import GPT2_PATTERN, whisper_gpt2_ranks_path

    target = Path(folder) / "ct2"
    if (target / "model.bin").is_file():
        return str(target)
    specials = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{code}|>" for code in list(whisper.tokenizer.LANGUAGES)[:99]]]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>"]
    specials += ["<|notimestamps|>", *[f"<|{i * 0.02:.2f}|>" for i in range(1501)]]
    tokenizer = TikTokenConverter(vocab_file=whisper_gpt2_ranks_path(), pattern=GPT2_PATTERN,
                                  extra_special_tokens=specials).converted()  # fmt: skip
    word = tokenizer.encode(" yeah", add_special_tokens=False).ids[0]
    config = WhisperConfig(
        vocab_size=51864, num_mel_bins=80, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
        decoder_attention_heads=8, d_model=512, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
        decoder_start_token_id=50257, eos_token_id=50256, pad_token_id=50256, bos_token_id=50256,
    )  # fmt: skip
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        norm = model.model.decoder.layer_norm
        norm.weight.zero_()
        norm.bias.normal_()
        model.model.decoder.embed_tokens.weight[word] = 10 * norm.bias
    model.save_pretrained(Path(folder) / "hf")
    ctranslate2.converters.TransformersConverter(str(Path(folder) / "hf")).convert(str(target), force=True)
    tokenizer.save(str(target / "tokenizer.json"))
    vocabulary = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
    (target / "vocabulary.json").write_text(json.dumps(vocabulary))
    return str(target)


class BufferedASR(LocalAgreementASR):
    """`LocalAgreementASR` that tells the scripted recogniser where its buffer starts."""

    def _update(self, final, upto=None):
        self.recognizer.offset = self.offset / RATE
        super()._update(final, upto)


class FreeCodec:
    """Codes at no cost (zeros, as many as SpeechTokenizer gives): a scenario without the acoustic front end."""

    def encode(self, audio: np.ndarray) -> tuple[list[int], list[int]]:
        count = -(-len(audio) // 320)
        return [0] * count, [0] * count


@dataclass
class Scenario:
    """One streamed configuration: which front ends run, with which settings, on which backbone."""

    label: str
    backbone: str = "int8"  # "fp32" or "int8"
    threads: int = 2
    words: bool = True  # the ASR runs (words are a modality)
    codec: bool = True  # SpeechTokenizer runs (else FreeCodec)
    window_seconds: float = 1.0
    right_context_seconds: float = 0.2
    asr_update_seconds: float = 1.0
    asr: str = "openai-whisper"  # or "faster-whisper"


SCENARIOS = [
    Scenario("everything, fp32 backbone", backbone="fp32"),
    Scenario("everything"),
    Scenario("everything, 1 torch thread (the ASR thread on the other core)", threads=1),
    Scenario("everything, 1 thread, 0.6 s code window, ASR every 2 s", threads=1, window_seconds=0.6,
             asr_update_seconds=2.0),
    Scenario("everything, 1 thread, faster-whisper (int8, 1 thread)", threads=1, asr="faster-whisper"),
    Scenario("everything, 1 thread, faster-whisper, 0.6 s code window", threads=1, asr="faster-whisper",
             window_seconds=0.6),
    Scenario("everything, 1 thread, 0.6 s code window, no right context, ASR every 2 s", threads=1,
             window_seconds=0.6, right_context_seconds=0.0, asr_update_seconds=2.0),
    Scenario("no ASR (acoustic codes and emotion)", words=False),
    Scenario("no ASR, 1 thread, 0.6 s code window", words=False, threads=1, window_seconds=0.6),
    Scenario("no ASR, 0.6 s code window, no right context", words=False, window_seconds=0.6,
             right_context_seconds=0.0),
    Scenario("no front end (LM and decoder only)", words=False, codec=False, right_context_seconds=0.0),
]  # fmt: skip


def build_models(args):
    """The LM (fp32 and an int8 copy), its tokenizer and config, and the VQ-VAE."""
    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=args.layers, n_embd=args.hidden, n_head=args.heads)
    config = ListenerConfig(backbone_config=backbone)
    torch.manual_seed(0)
    fp32 = ListenerForCausalLM(config).eval()
    int8 = quantize_backbone(copy.deepcopy(fp32), "int8")
    return {"fp32": fp32, "int8": int8}, tokenizer, config, IdentityVQVAE(IdentityVQVAEConfig()).eval()


def run(scenario: Scenario, models, tokenizer, config, vqvae, recognizers, codec, audio) -> None:
    """Warm up on the first 2 s fed as fast as possible, then feed the recording live; print the table row."""
    torch.set_num_threads(scenario.threads)
    model, recognizer = models[scenario.backbone], recognizers[scenario.asr]
    modalities = ("words", "acoustic", "emotion") if scenario.words else ("acoustic", "emotion")
    processor = ListenerProcessor.from_listener_config(tokenizer, config, modalities=modalities)
    encoder = Timed(codec.encode if scenario.codec else FreeCodec().encode)
    codes = SlidingWindowCodes(SimpleNamespace(encode=encoder), processor.group_seconds, scenario.window_seconds,
                               scenario.right_context_seconds)  # fmt: skip
    asr = BufferedASR(recognizer, update_seconds=scenario.asr_update_seconds, vad=False, background=True)
    step = Timed(model.generation_step)
    model.generation_step = step
    stream = ListenerStream(model, processor, vqvae, np.zeros(vqvae.config.identity_dim, dtype=np.float32),
                            asr=asr if scenario.words else None, acoustic_codes=codes)  # fmt: skip
    with torch.inference_mode():
        feed(stream, audio[: 2 * RATE], RATE, real_time=False)
        for timed in (recognizer.transcribe, encoder, step):
            timed.ms.clear()
        stream.reset()
        timing = feed(stream, audio, RATE, chunk_seconds=0.02, real_time=True)
    del model.generation_step
    latency = (*np.percentile(timing.latencies_ms, [50, 95]), timing.latencies_ms.max())
    stages = [step.ms, encoder.ms if scenario.codec else [], recognizer.transcribe.ms if scenario.words else []]
    print(f"| {scenario.label} | {scenario.backbone} | {torch.get_num_threads()} | "
          + " | ".join(f"{value:.0f}" for value in latency)
          + f" | {timing.late}/{len(timing.latencies_ms)} | "
          + " | ".join(f"{np.percentile(ms, 50):.0f}" if ms else "-" for ms in stages) + " |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="length of the recording")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--cache", default="outputs/bench_streaming", help="where the CTranslate2 Whisper is built")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    script = [(str(rng.choice(VOCABULARY)), 0.35 * k + 0.05, 0.35 * k + 0.3) for k in range(int(args.seconds / 0.35))]
    audio = speech(args.seconds)
    models, tokenizer, config, vqvae = build_models(args)
    recognizers = {"openai-whisper": ScriptedWhisper(script), "faster-whisper": ScriptedFasterWhisper(script, args.cache)}
    for recognizer in recognizers.values():
        recognizer.transcribe = Timed(recognizer.transcribe)
    codec = SpeechTokenizerCodes.from_config(SPEECHTOKENIZER_CONFIG)
    print(f"{args.seconds:g} s of audio in 20 ms chunks at real-time pace; LM {args.layers} layers x {args.hidden}; "
          f"{os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}. Latency: a group's audio "
          "complete -> its frames out; late: over one group (266.7 ms)")  # fmt: skip
    print("| scenario | backbone | threads | latency p50 (ms) | p95 (ms) | max (ms) | late groups | LM step p50 (ms) "
          "| code window encode p50 (ms) | transcription p50 (ms) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scenario in SCENARIOS:
        run(scenario, models, tokenizer, config, vqvae, recognizers, codec, audio)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
