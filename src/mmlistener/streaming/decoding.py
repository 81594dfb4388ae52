"""Streaming VQ-VAE decoding: listener codes in one at a time, each code's frames out once.

The decoder of [`IdentityVQVAE`] is not causal: its convolutions read both neighbours and its instance norm /
AdaIN normalises every channel over the whole time axis. A stream cannot wait for the whole turn, so each new
code is decoded together with the `look_back - 1` codes before it and only the newest code's frames are kept;
frames already handed out are never revised. Decoding a single code is refused by the model (the norm over time
would map it to a constant whatever the code), so the first frames come out once `config.min_codes` codes are
known. `bench/streaming_decode.py` measures how far this is from decoding the whole window and sets
`DEFAULT_LOOK_BACK` (see docs/streaming.md).

A VQ-VAE trained with `causal_decoder=True` (convolutions and statistics over the past only) streams exactly:
while the turn fits in the look-back, each code's frames are those of decoding the whole turn.
"""

from collections import deque

import numpy as np
import torch

# Codes decoded together for each new code: the newest and the 29 before it (8 s at 30 fps, the training windows'
# length). `bench/streaming_decode.py` prints, per look-back, how far it is from whole-window decoding (the longer,
# the closer) and the time per group (docs/streaming.md).
DEFAULT_LOOK_BACK = 30


class StreamingDecoder:
    """Decodes listener codes as they come with a bounded look-back; each code's frames are returned once.

    Args:
        vqvae ([`IdentityVQVAE`]): the trained VQ-VAE.
        identity (`np.ndarray` or `torch.Tensor` of shape `(identity_dim,)`, *optional*): the listener's beta;
            required when the decoder norm is adaptive. It and the codes go to the VQ-VAE's device (a VQ-VAE on a
            GPU decodes there; the frames come back as numpy on the CPU).
        look_back (`int`, defaults to `DEFAULT_LOOK_BACK`): codes decoded together, the newest included; at least
            `vqvae.config.min_codes`.
    """

    def __init__(self, vqvae, identity=None, look_back: int = DEFAULT_LOOK_BACK):
        if look_back < vqvae.config.min_codes:
            raise ValueError(
                f"look_back={look_back} codes: the VQ-VAE's {vqvae.config.decoder_norm} decoder needs at least "
                f"{vqvae.config.min_codes} codes decoded together"
            )
        self.vqvae = vqvae.eval()
        self.identity = None
        if identity is not None:
            self.identity = torch.as_tensor(identity, dtype=torch.float32).reshape(1, -1).to(vqvae.device)
        self.look_back = look_back
        self.reset()

    def reset(self) -> None:
        """Forget the codes (a new turn)."""
        self._window: deque[int] = deque(maxlen=self.look_back)
        self._waiting = 0  # codes at the end of the window whose frames are not out yet

    @property
    def frames_per_code(self) -> int:
        return self.vqvae.config.downsample_rate

    @property
    def waiting(self) -> int:
        """Codes received whose frames are not out yet (fewer than `config.min_codes` so far)."""
        return self._waiting

    @torch.no_grad()
    def push(self, code: int) -> np.ndarray:
        """Add the next code; return the frames now final, `(n * downsample_rate, motion_dim)` float32 raw motion.

        `n` is 1 once `config.min_codes` codes are known, 0 before, and all codes waiting so far (e.g. 2) at the
        first code that makes decoding possible.
        """
        self._window.append(int(code))
        self._waiting += 1
        if len(self._window) < self.vqvae.config.min_codes:
            return np.zeros((0, self.vqvae.config.motion_dim), dtype=np.float32)
        codes = torch.tensor([list(self._window)], dtype=torch.long, device=self.vqvae.device)
        motion = self.vqvae.decode(codes, identity=self.identity).motion[0]
        frames = motion[-self._waiting * self.frames_per_code :]
        self._waiting = 0
        return frames.float().cpu().numpy()


__all__ = ["DEFAULT_LOOK_BACK", "StreamingDecoder"]
