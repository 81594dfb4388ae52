"""SpeechTokenizer acoustic codes, imported without the package `__init__`.

`speechtokenizer/__init__.py` imports its trainer, which imports torchaudio (not installed, and not
needed to encode). `import_speechtokenizer_model` registers a bare namespace module for the
package and imports `speechtokenizer.model` alone.

SpeechTokenizer's residual quantizer has 8 levels at 50 Hz: level 1 ("content") is distilled from
HuBERT, level 2 onwards carry the acoustic detail. `encode(wav, n_q=2)` returns `(2, batch, frames)`:
index 0 = content codes, index 1 = acoustic codes. `encode(wav, st=1)` is something else (it
encodes the residual starting at level 1 from the encoder output): never use it for level-2 codes.
"""

import importlib
import importlib.util
import json
import os
import sys
import types
import warnings

import numpy as np
import torch

from .audio import SAMPLE_RATE

CODE_RATE = 50  # codes per second (hop 320 at 16 kHz)


def import_speechtokenizer_model():
    """The `speechtokenizer.model` module, imported without running `speechtokenizer/__init__.py`."""
    loaded = sys.modules.get("speechtokenizer.model")
    if loaded is not None:
        return loaded
    if "speechtokenizer" not in sys.modules:
        spec = importlib.util.find_spec("speechtokenizer")
        if spec is None or not spec.submodule_search_locations:
            raise ValueError("speechtokenizer is not installed: `pip install --no-deps speechtokenizer` (see README)")
        package = types.ModuleType("speechtokenizer")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = importlib.machinery.ModuleSpec("speechtokenizer", None, is_package=True)
        package.__spec__.submodule_search_locations = package.__path__
        sys.modules["speechtokenizer"] = package
    return importlib.import_module("speechtokenizer.model")


def _build_model(config: dict):
    module = import_speechtokenizer_model()
    with warnings.catch_warnings():  # its convolutions use the deprecated torch.nn.utils.weight_norm
        warnings.filterwarnings("ignore", message=".*weight_norm.*", category=FutureWarning)
        return module.SpeechTokenizer(config)


class SpeechTokenizerCodes:
    """Content (level 1) and acoustic (level 2) codes of 16 kHz mono speech.

    Args:
        model (`speechtokenizer.model.SpeechTokenizer`): a loaded model (see `from_checkpoint`).
    """

    def __init__(self, model):
        if getattr(model, "sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise ValueError(f"SpeechTokenizer must run at {SAMPLE_RATE} Hz, the model says {model.sample_rate}")
        self.model = model.eval()

    @classmethod
    def from_config(cls, config: dict) -> "SpeechTokenizerCodes":
        """A randomly initialised model from a config dict (tests, or before loading weights)."""
        return cls(_build_model(config))

    @classmethod
    def from_checkpoint(cls, config_path: str, checkpoint_path: str) -> "SpeechTokenizerCodes":
        """Load SpeechTokenizer's released `config.json` + `SpeechTokenizer.pt` (read with weights_only=True)."""
        for path in (config_path, checkpoint_path):
            if not os.path.isfile(path):
                raise ValueError(f"no SpeechTokenizer file at {path}")
        with open(config_path) as handle:
            config = json.load(handle)
        model = _build_model(config)
        model.load_state_dict(torch.load(checkpoint_path, map_location="cpu", weights_only=True))
        return cls(model)

    def streaming(self, hop_seconds: float, **settings):
        """A [`SlidingWindowCodes`] over this model, blocks of `hop_seconds` (`settings`: its window and right
        context). `ListenerProcessor.code_streamer` gives one whose blocks are the processor's groups."""
        from .streaming_codes import SlidingWindowCodes

        return SlidingWindowCodes(self, hop_seconds, **settings)

    @torch.no_grad()
    def encode(self, audio: np.ndarray) -> tuple[list[int], list[int]]:
        """Codes of one clip.

        Args:
            audio (`np.ndarray` of shape `(samples,)`): 16 kHz mono float32.

        Returns:
            `(content_codes, acoustic_codes)`: two int lists at 50 Hz, about `samples / 320` each.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio (samples,), got shape {audio.shape}")
        device = next(self.model.parameters()).device
        wav = torch.from_numpy(audio).to(device)[None, None]
        codes = self.model.encode(wav, n_q=2)  # (n_q=2, batch=1, frames)
        return codes[0, 0].tolist(), codes[1, 0].tolist()


__all__ = ["CODE_RATE", "SpeechTokenizerCodes", "import_speechtokenizer_model"]
