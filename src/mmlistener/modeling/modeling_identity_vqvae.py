"""IdentityVQVAE: a motion VQ-VAE whose codes are identity-free and whose decoder restores the identity.

Raw 3DMM motion `(batch, frames, 56)` is z-normalised with the model's `motion_mean` / `motion_std`
buffers, encoded by 1-D convolutions (stride-2 stages, dilated residual units, optional instance
normalisation that erases per-sequence statistics) into one latent every `downsample_rate` frames,
quantised by an EMA codebook, and decoded by the mirrored network whose adaptive norms (AdaIN/AdaLN)
take their per-channel scale and shift from the identity (FLAME shape beta). The output is raw motion
again.

This file and `configuration_identity_vqvae.py` import nothing else from mmlistener: they are copied
next to saved weights so that `AutoModel.from_pretrained(dir, trust_remote_code=True)` works anywhere.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_identity_vqvae import IdentityVQVAEConfig

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


@dataclass
class IdentityVQVAEOutput(ModelOutput):
    """Output of [`IdentityVQVAE.forward`].

    Args:
        loss (`torch.FloatTensor` of shape `()`): `reconstruction_weight * reconstruction_loss +
            commit_weight * commit_loss + velocity_weight * velocity_loss`.
        reconstruction (`torch.FloatTensor` of shape `(batch, frames, motion_dim)`): raw (de-normalised)
            reconstructed motion, trimmed to the input's frame count.
        codes (`torch.LongTensor` of shape `(batch, ceil(frames / downsample_rate))`): codebook indices.
        reconstruction_loss (`torch.FloatTensor` of shape `()`): smooth-L1 on normalised motion,
            `expression + pose_weight * head_rotation + jaw` (each part a mean over its values).
        commit_loss (`torch.FloatTensor` of shape `()`): `mse(latents, quantized.detach())`.
        velocity_loss (`torch.FloatTensor` of shape `()`): the same split smooth-L1 on first differences
            along time (0 for one-frame inputs).
        perplexity (`torch.FloatTensor` of shape `()`): `exp(entropy)` of the batch's code usage.
    """

    loss: torch.FloatTensor | None = None
    reconstruction: torch.FloatTensor | None = None
    codes: torch.LongTensor | None = None
    reconstruction_loss: torch.FloatTensor | None = None
    commit_loss: torch.FloatTensor | None = None
    velocity_loss: torch.FloatTensor | None = None
    perplexity: torch.FloatTensor | None = None


@dataclass
class IdentityVQVAEEncoderOutput(ModelOutput):
    """Output of [`IdentityVQVAE.encode`].

    Args:
        codes (`torch.LongTensor` of shape `(batch, ceil(frames / downsample_rate))`): codebook indices.
        latents (`torch.FloatTensor` of shape `(batch, ceil(frames / downsample_rate), codebook_dim)`):
            encoder outputs before quantisation.
    """

    codes: torch.LongTensor | None = None
    latents: torch.FloatTensor | None = None


@dataclass
class IdentityVQVAEDecoderOutput(ModelOutput):
    """Output of [`IdentityVQVAE.decode`].

    Args:
        motion (`torch.FloatTensor` of shape `(batch, codes_len * downsample_rate, motion_dim)`): raw motion.
    """

    motion: torch.FloatTensor | None = None


@dataclass
class VectorQuantizerOutput(ModelOutput):
    """Output of [`EMAVectorQuantizer`].

    Args:
        quantized (`torch.FloatTensor` of shape `(batch, length, codebook_dim)`): straight-through
            quantised latents (forward value: the codebook vectors; gradient: identity to the latents).
        codes (`torch.LongTensor` of shape `(batch, length)`): nearest codebook entries.
        commit_loss (`torch.FloatTensor` of shape `()`): `mse(latents, codebook vectors.detach())`.
        perplexity (`torch.FloatTensor` of shape `()`): `exp(entropy)` of the code usage in this batch.
    """

    quantized: torch.FloatTensor | None = None
    codes: torch.LongTensor | None = None
    commit_loss: torch.FloatTensor | None = None
    perplexity: torch.FloatTensor | None = None


def _cumulative_statistics(hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (biased) variance over steps `0..t` of `hidden (batch, channels, time)`, for every `t`."""
    count = torch.arange(1, hidden.shape[-1] + 1, device=hidden.device, dtype=hidden.dtype)
    mean = hidden.cumsum(-1) / count
    var = (hidden.square().cumsum(-1) / count - mean.square()).clamp(min=0.0)
    return mean, var


def _conv(in_channels: int, out_channels: int, kernel_size: int, causal: bool, stride: int = 1, dilation: int = 1):
    """`Conv1d` keeping `time / stride` steps: padded on both sides, or (causal) on the left only, so that
    step `t` of the output reads input steps up to `stride * t + stride - 1` and no later."""
    if causal:
        return CausalConv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation)
    padding = (dilation * (kernel_size - 1) + 1 - stride) // 2
    return nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation)


class CausalConv1d(nn.Conv1d):
    """`Conv1d` with `dilation * (kernel_size - 1) + 1 - stride` zeros on the left of the time axis only."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        left = self.dilation[0] * (self.kernel_size[0] - 1) + 1 - self.stride[0]
        return super().forward(F.pad(hidden, (left, 0)))


class MotionNorm(nn.Module):
    """One normalisation of `(batch, channels, time)` features, chosen by name.

    - `"none"`: identity.
    - `"layer"`: over channels at each time step, learned per-channel affine.
    - `"instance"`: over time for each channel of each sequence, learned affine; removes
      per-sequence (identity) statistics.
    - `"adaln"` / `"adain"`: the layer / instance normalisation without learned affine, followed by
      `(1 + scale(identity)) * x + shift(identity)` with `scale, shift` a linear map of the identity.
    - `"identity"`: no statistics: `(x - shift(identity)) * exp(-log_scale(identity))`, the inverse of a
      per-channel affine style, with `log_scale, shift` a linear map of the identity.

    With `causal=True` the statistics over time at step `t` are those of steps `0..t` (cumulative), so the
    output at `t` depends on no later step.
    """

    def __init__(self, config: IdentityVQVAEConfig, kind: str, channels: int, causal: bool = False):
        super().__init__()
        self.kind = kind
        self.eps = config.norm_eps
        self.reduce_dim = 1 if kind in ("layer", "adaln") else 2
        self.causal = causal and self.reduce_dim == 2
        if kind in ("layer", "instance"):
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
        if kind in ("adaln", "adain", "identity"):
            self.style = nn.Linear(config.identity_dim, 2 * channels)

    def forward(self, hidden: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "none":
            return hidden
        if self.kind == "identity":
            log_scale, shift = self.style(identity).unsqueeze(-1).chunk(2, dim=1)
            return (hidden - shift) * torch.exp(-log_scale)
        if self.causal:
            mean, var = _cumulative_statistics(hidden)
        else:
            mean = hidden.mean(dim=self.reduce_dim, keepdim=True)
            var = hidden.var(dim=self.reduce_dim, keepdim=True, unbiased=False)
        hidden = (hidden - mean) * torch.rsqrt(var + self.eps)
        if self.kind in ("layer", "instance"):
            return hidden * self.weight[:, None] + self.bias[:, None]
        scale, shift = self.style(identity).unsqueeze(-1).chunk(2, dim=1)
        return hidden * (1.0 + scale) + shift


class ResidualUnit(nn.Module):
    """`x + conv1x1(act(norm(conv3_dilated(act(norm(x))))))` over `(batch, hidden_size, time)`."""

    def __init__(self, config: IdentityVQVAEConfig, norm: str, dilation: int, causal: bool = False):
        super().__init__()
        width = config.hidden_size
        self.norm1 = MotionNorm(config, norm, width, causal)
        self.conv1 = _conv(width, width, 3, causal, dilation=dilation)
        self.norm2 = MotionNorm(config, norm, width, causal)
        self.conv2 = nn.Conv1d(width, width, kernel_size=1)
        self.activation = _ACTIVATIONS[config.activation]()

    def forward(self, hidden: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        residual = self.conv1(self.activation(self.norm1(hidden, identity)))
        residual = self.conv2(self.activation(self.norm2(residual, identity)))
        return hidden + residual


class ResidualStack(nn.Module):
    """`num_residual_layers` units with dilations `growth ** (depth - 1), ..., growth, 1`."""

    def __init__(self, config: IdentityVQVAEConfig, norm: str, causal: bool = False):
        super().__init__()
        depth, growth = config.num_residual_layers, config.dilation_growth_rate
        self.units = nn.ModuleList(ResidualUnit(config, norm, growth**i, causal) for i in reversed(range(depth)))

    def forward(self, hidden: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        for unit in self.units:
            hidden = unit(hidden, identity)
        return hidden


class EncoderStage(nn.Module):
    """Halve the time axis (`Conv1d(k=4, stride=2)`), normalise, run a residual stack."""

    def __init__(self, config: IdentityVQVAEConfig):
        super().__init__()
        width, causal = config.hidden_size, config.causal_encoder
        self.downsample = _conv(width, width, 4, causal, stride=2)
        self.norm = MotionNorm(config, _encoder_hidden_norm(config), width, causal)
        self.residual = ResidualStack(config, _encoder_hidden_norm(config), causal)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.residual(self.norm(self.downsample(hidden)))


class DecoderStage(nn.Module):
    """Run a residual stack, double the time axis (nearest), `Conv1d(k=3)`, normalise."""

    def __init__(self, config: IdentityVQVAEConfig):
        super().__init__()
        width, causal = config.hidden_size, config.causal_decoder
        self.residual = ResidualStack(config, config.decoder_norm, causal)
        self.conv = _conv(width, width, 3, causal)
        self.norm = MotionNorm(config, config.decoder_norm, width, causal)

    def forward(self, hidden: torch.Tensor, identity: torch.Tensor | None) -> torch.Tensor:
        hidden = self.residual(hidden, identity)
        hidden = F.interpolate(hidden, scale_factor=2, mode="nearest")
        return self.norm(self.conv(hidden), identity)


def _encoder_hidden_norm(config: IdentityVQVAEConfig) -> str:
    """The kind of the encoder's norm layers after its first convolution (none when the identity normalises)."""
    return "none" if config.encoder_reads_identity else config.encoder_norm


class IdentityVQVAEEncoder(nn.Module):
    """Normalised motion `(batch, motion_dim, frames)` (+ identity `(batch, identity_dim)` when
    `encoder_norm="identity"`) -> latents `(batch, codebook_dim, frames / rate)`."""

    def __init__(self, config: IdentityVQVAEConfig):
        super().__init__()
        width, causal = config.hidden_size, config.causal_encoder
        input_norm = "identity" if config.encoder_reads_identity else config.encoder_input_norm
        self.norm_motion = MotionNorm(config, input_norm, config.motion_dim, causal)
        self.conv_in = _conv(config.motion_dim, width, 3, causal)
        self.norm_in = MotionNorm(config, _encoder_hidden_norm(config), width, causal)
        self.activation = _ACTIVATIONS[config.activation]()
        self.stages = nn.ModuleList(EncoderStage(config) for _ in range(config.num_stages))
        self.conv_out = _conv(width, config.codebook_dim, 3, causal)

    def forward(self, motion: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.activation(self.norm_in(self.conv_in(self.norm_motion(motion, identity))))
        for stage in self.stages:
            hidden = stage(hidden)
        return self.conv_out(hidden)


class IdentityVQVAEDecoder(nn.Module):
    """Quantised latents `(batch, codebook_dim, length)` + identity -> motion `(batch, motion_dim, length * rate)`."""

    def __init__(self, config: IdentityVQVAEConfig):
        super().__init__()
        width, causal = config.hidden_size, config.causal_decoder
        self.conv_in = _conv(config.codebook_dim, width, 3, causal)
        self.norm_in = MotionNorm(config, config.decoder_norm, width, causal)
        self.activation = _ACTIVATIONS[config.activation]()
        self.stages = nn.ModuleList(DecoderStage(config) for _ in range(config.num_stages))
        self.conv_mid = _conv(width, width, 3, causal)
        self.conv_out = _conv(width, config.motion_dim, 3, causal)

    def forward(self, latents: torch.Tensor, identity: torch.Tensor | None) -> torch.Tensor:
        hidden = self.activation(self.norm_in(self.conv_in(latents), identity))
        for stage in self.stages:
            hidden = stage(hidden, identity)
        return self.conv_out(self.activation(self.conv_mid(hidden)))


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over processes when running distributed (so every replica keeps the same codebook)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(tensor)
    return tensor


def _broadcast(tensor: torch.Tensor) -> torch.Tensor:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.broadcast(tensor, src=0)
    return tensor


class EMAVectorQuantizer(nn.Module):
    """Nearest-neighbour vector quantiser with an EMA codebook and dead-code reset.

    Training (`update=True`): the first batch initialises the codebook with random latents of that
    batch; each batch then updates the EMA counts and sums of its assigned codes, sets every code to
    `sums / counts`, and replaces codes whose EMA count is below `dead_code_threshold` by random latents
    of the batch. Gradients pass to the encoder by the straight-through estimator; the codebook learns
    only through the EMA (it replaces the embedding loss of a gradient-trained codebook).

    All state is in buffers (`codebook`, `ema_counts`, `ema_sums`, `initialized`): it is saved with
    the model and follows `.to(device)`.
    """

    def __init__(self, config: IdentityVQVAEConfig):
        super().__init__()
        self.decay = config.ema_decay
        self.threshold = config.dead_code_threshold
        size, dim = config.codebook_size, config.codebook_dim
        self.register_buffer("codebook", torch.randn(size, dim))
        self.register_buffer("ema_counts", torch.zeros(size))
        self.register_buffer("ema_sums", torch.zeros(size, dim))
        self.register_buffer("initialized", torch.tensor(False))

    def nearest(self, latents: torch.Tensor) -> torch.LongTensor:
        """Indices `(N,)` of the codebook entries nearest (Euclidean) to `latents (N, dim)`."""
        codebook = self.codebook.float()
        latents = latents.float()
        distances = (
            latents.pow(2).sum(-1, keepdim=True) - 2.0 * latents @ codebook.T + codebook.pow(2).sum(-1)[None]
        )
        return distances.argmin(dim=-1)

    def _random_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """`codebook_size` random rows of `latents (N, dim)`, repeated with small noise when N is too small."""
        size = self.codebook.shape[0]
        if latents.shape[0] < size:
            repeats = -(-size // latents.shape[0])
            noise = torch.randn(repeats * latents.shape[0], latents.shape[1], device=latents.device)
            latents = latents.repeat(repeats, 1) + noise * (0.01 / latents.shape[1] ** 0.5)
        chosen = latents[torch.randperm(latents.shape[0], device=latents.device)[:size]]
        return _broadcast(chosen.contiguous())

    @torch.no_grad()
    def _update(self, latents: torch.Tensor, codes: torch.LongTensor) -> None:
        latents = latents.float()
        if not self.initialized:
            start = self._random_latents(latents)
            self.codebook.copy_(start)
            self.ema_sums.copy_(start)
            self.ema_counts.fill_(1.0)
            self.initialized.fill_(True)
            codes = self.nearest(latents)
        assignment = F.one_hot(codes, self.codebook.shape[0]).to(latents.dtype)  # (N, K)
        counts = _all_reduce_sum(assignment.sum(dim=0))
        sums = _all_reduce_sum(assignment.T @ latents)
        self.ema_counts.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.ema_sums.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        alive = self.ema_counts >= self.threshold
        means = self.ema_sums / self.ema_counts.clamp(min=1e-6)[:, None]
        fresh = self._random_latents(latents)
        self.codebook.copy_(torch.where(alive[:, None], means, fresh))
        # a revived code restarts its EMA at the threshold, centred on its new vector
        self.ema_sums.copy_(torch.where(alive[:, None], self.ema_sums, fresh * self.threshold))
        self.ema_counts.copy_(
            torch.where(alive, self.ema_counts, torch.full_like(self.ema_counts, self.threshold))
        )

    def lookup(self, codes: torch.LongTensor) -> torch.Tensor:
        """Codebook vectors `(..., dim)` of `codes (...)`."""
        return F.embedding(codes, self.codebook)

    def forward(self, latents: torch.Tensor, update: bool = False) -> VectorQuantizerOutput:
        r"""
        Args:
            latents (`torch.FloatTensor` of shape `(batch, length, codebook_dim)`): encoder outputs.
            update (`bool`): run the EMA codebook update (training).
        """
        batch, length, dim = latents.shape
        flat = latents.reshape(-1, dim)
        codes = self.nearest(flat)
        if update:
            self._update(flat.detach(), codes)
            codes = self.nearest(flat)
        vectors = self.lookup(codes).to(latents.dtype)
        commit_loss = F.mse_loss(flat, vectors.detach())
        quantized = flat + (vectors - flat).detach()
        usage = torch.bincount(codes, minlength=self.codebook.shape[0]).float()
        probabilities = usage / usage.sum()
        entropy = -(probabilities * torch.log(probabilities.clamp(min=1e-10))).sum()
        return VectorQuantizerOutput(
            quantized=quantized.reshape(batch, length, dim),
            codes=codes.reshape(batch, length),
            commit_loss=commit_loss,
            perplexity=entropy.exp(),
        )


class IdentityVQVAEPreTrainedModel(PreTrainedModel):
    config_class = IdentityVQVAEConfig
    base_model_prefix = "vqvae"
    main_input_name = "motion"
    supports_gradient_checkpointing = False
    _no_split_modules = ["EncoderStage", "DecoderStage"]

    def _init_weights(self, module):
        if isinstance(module, nn.Conv1d):
            # PyTorch's own default (what LM-Listener's network trains with)
            fan_in = module.in_channels * module.kernel_size[0] // module.groups
            bound = 1.0 / fan_in**0.5
            init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, MotionNorm) and module.kind in ("layer", "instance"):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, EMAVectorQuantizer):
            init.normal_(module.codebook, mean=0.0, std=1.0)
            init.zeros_(module.ema_counts)
            init.zeros_(module.ema_sums)
            init.zeros_(module.initialized)
        elif isinstance(module, IdentityVQVAE):
            init.zeros_(module.motion_mean)
            init.ones_(module.motion_std)


class IdentityVQVAE(IdentityVQVAEPreTrainedModel):
    r"""Identity-disentangled motion VQ-VAE (the paper's listener tokenizer).

    Takes RAW 3DMM motion and returns raw motion: normalisation by the `motion_mean` / `motion_std`
    buffers happens inside (set them from the training data with `set_motion_statistics`). A sequence
    whose length is not a multiple of `downsample_rate` is padded at the end by repeating its last frame,
    encoded to `ceil(frames / rate)` codes, and the reconstruction is trimmed back to `frames` (losses only
    see real frames). `decode` returns `codes_len * rate` frames. Too short a clip is refused: an instance
    norm over time maps a single step to a constant, so the instance-norm encoder needs more than
    `downsample_rate` frames (`config.min_frames`) and an instance-norm or AdaIN decoder 2 codes
    (`config.min_codes`).

    In training mode `forward` also updates the EMA codebook; `encode`, `decode` and eval-mode
    `forward` never change it.

    Example:

    ```python
    >>> import torch
    >>> from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
    >>> config = IdentityVQVAEConfig(hidden_size=32, codebook_size=16, codebook_dim=32)
    >>> model = IdentityVQVAE(config).eval()
    >>> motion, beta = torch.randn(2, 30, 56), torch.randn(2, 100)
    >>> out = model(motion, identity=beta)
    >>> tuple(out.reconstruction.shape), tuple(out.codes.shape)
    ((2, 30, 56), (2, 4))
    >>> tuple(model.decode(out.codes, identity=beta).motion.shape)
    (2, 32, 56)

    ```
    """

    def __init__(self, config: IdentityVQVAEConfig):
        super().__init__(config)
        self.register_buffer("motion_mean", torch.zeros(config.motion_dim))
        self.register_buffer("motion_std", torch.ones(config.motion_dim))
        self.encoder = IdentityVQVAEEncoder(config)
        self.quantizer = EMAVectorQuantizer(config)
        self.decoder = IdentityVQVAEDecoder(config)
        self.post_init()

    # ----------------------------------------------------------------------------------------- inputs

    def set_motion_statistics(self, mean, std) -> None:
        """Set the per-channel normalisation of raw motion.

        Args:
            mean (array-like of shape `(motion_dim,)`): mean of the training motion per channel.
            std (array-like of shape `(motion_dim,)`): its standard deviation; every entry must be > 0.
        """
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        dim = self.config.motion_dim
        if mean.shape != (dim,) or std.shape != (dim,):
            raise ValueError(
                f"motion statistics must have {dim} values, got mean {mean.numel()} and std {std.numel()}"
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
            raise ValueError("motion statistics contain NaN or infinite values")
        if (std <= 0).any():
            raise ValueError(f"motion std must be positive, got minimum {float(std.min())}")
        with torch.no_grad():
            self.motion_mean.copy_(mean)
            self.motion_std.copy_(std)

    def _normalised_motion(self, motion: torch.Tensor) -> torch.Tensor:
        """Check raw `motion (batch, frames, motion_dim)` and return it normalised."""
        if not isinstance(motion, torch.Tensor):
            raise ValueError(f"motion must be a torch.Tensor, got {type(motion).__name__}")
        dim = self.config.motion_dim
        if motion.ndim != 3 or motion.shape[-1] != dim:
            hint = " (add a batch axis: motion[None])" if motion.ndim == 2 else ""
            raise ValueError(
                f"motion must have shape (batch, frames, {dim}), got {tuple(motion.shape)}{hint}"
            )
        if motion.shape[0] == 0 or motion.shape[1] == 0:
            raise ValueError(f"motion has no sequences or no frames: shape {tuple(motion.shape)}")
        if not torch.isfinite(motion).all():
            raise ValueError("motion contains NaN or infinite values")
        self._check_frame_count(motion.shape[1])
        motion = motion.to(device=self.motion_mean.device, dtype=self.motion_mean.dtype)
        return (motion - self.motion_mean) / self.motion_std

    def _check_frame_count(self, frames: int) -> None:
        """A ValueError when `frames` are too few for codes that depend on the motion (`config.min_frames`)."""
        config = self.config
        if frames >= config.min_frames:
            return
        if config.encoder_norm == "instance":
            raise ValueError(
                f"motion has {frames} frames: the encoder's instance norm normalises each channel over time, so it "
                f"needs at least 2 latent steps, i.e. more than downsample_rate={config.downsample_rate} frames "
                f"({config.min_frames} or more); with one step its codes would not depend on the motion"
            )
        raise ValueError(
            f"motion has {frames} frame: the encoder's input instance norm normalises each motion channel over "
            f"time, so it needs at least {config.min_frames} frames; with one its codes would not depend on the motion"
        )

    def _checked_identity(
        self, identity: torch.Tensor | None, batch: int, source: str, parts: tuple[str, ...] = ("decoder",)
    ) -> torch.Tensor | None:
        """The identity `(batch, identity_dim)` that the `parts` (`"encoder"`, `"decoder"`) need, or None when none
        of them reads it; `source` (`"motion"` or `"codes"`) is the argument whose batch size it must match."""
        config = self.config
        needing = []
        if "encoder" in parts and config.encoder_reads_identity:
            needing.append(f"encoder_norm={config.encoder_norm!r}")
        if "decoder" in parts and config.is_adaptive:
            needing.append(f"decoder_norm={config.decoder_norm!r}")
        if not needing:
            return None
        if identity is None:
            raise ValueError(
                f"{' and '.join(needing)} {'needs' if len(needing) == 1 else 'need'} the listener identity: pass "
                f"identity=<tensor of shape ({batch}, {config.identity_dim})>"
            )
        identity = torch.as_tensor(identity)
        if identity.shape != (batch, self.config.identity_dim):
            raise ValueError(
                f"identity must have shape ({batch}, {self.config.identity_dim}) for {source} of batch {batch}, got "
                f"{tuple(identity.shape)}"
            )
        if not torch.isfinite(identity).all():
            raise ValueError("identity contains NaN or infinite values")
        return identity.to(device=self.motion_mean.device, dtype=self.decoder.conv_in.weight.dtype)

    def _encode_normalised(self, motion: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised `(batch, frames, dim)` (+ the checked identity when the encoder reads it) -> latents
        `(batch, ceil(frames / rate), codebook_dim)`."""
        rate = self.config.downsample_rate
        missing = -motion.shape[1] % rate
        if missing:
            motion = torch.cat([motion, motion[:, -1:].expand(-1, missing, -1)], dim=1)
        hidden = motion.to(self.encoder.conv_in.weight.dtype).transpose(1, 2)
        return self.encoder(hidden, identity).transpose(1, 2)

    def _decode_normalised(self, quantized: torch.Tensor, identity: torch.Tensor | None) -> torch.Tensor:
        """Quantised latents `(batch, length, codebook_dim)` -> normalised motion `(batch, length * rate, dim)`."""
        return self.decoder(quantized.transpose(1, 2), identity).transpose(1, 2)

    def _denormalise(self, motion: torch.Tensor) -> torch.Tensor:
        return motion.float() * self.motion_std + self.motion_mean

    def _split_smooth_l1(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """`smooth_l1(expression) + pose_weight * smooth_l1(head rotation) + smooth_l1(jaw)`, part means."""
        start = self.config.expression_dim
        loss = F.smooth_l1_loss(prediction[..., :start], target[..., :start])
        loss = loss + self.config.pose_weight * F.smooth_l1_loss(
            prediction[..., start : start + 3], target[..., start : start + 3]
        )
        if prediction.shape[-1] > start + 3:
            loss = loss + F.smooth_l1_loss(prediction[..., start + 3 :], target[..., start + 3 :])
        return loss

    # ------------------------------------------------------------------------------------------- API

    def codebook_vectors(self) -> torch.Tensor:
        """The codebook `(codebook_size, codebook_dim)`."""
        return self.quantizer.codebook

    def forward(
        self,
        motion: torch.FloatTensor,
        identity: torch.FloatTensor | None = None,
        return_dict: bool | None = None,
    ) -> IdentityVQVAEOutput | tuple:
        r"""Encode, quantise and decode; compute the training losses.

        Args:
            motion (`torch.FloatTensor` of shape `(batch, frames, motion_dim)`): raw motion, at least
                `config.min_frames` frames (more than `downsample_rate` with the instance-norm encoder).
            identity (`torch.FloatTensor` of shape `(batch, identity_dim)`, *optional*): the identity (FLAME
                shape beta); required when `decoder_norm` is `"adain"` or `"adaln"` or `encoder_norm` is
                `"identity"`, ignored otherwise.
            return_dict (`bool`, *optional*): return an [`IdentityVQVAEOutput`] (default) or a tuple.

        Returns:
            [`IdentityVQVAEOutput`]: loss and its parts, raw `reconstruction (batch, frames, motion_dim)`,
            `codes (batch, ceil(frames / downsample_rate))`, `perplexity`.
        """
        target = self._normalised_motion(motion)
        batch, frames, _ = target.shape
        identity = self._checked_identity(identity, batch, "motion", parts=("encoder", "decoder"))
        quantizer_output = self.quantizer(self._encode_normalised(target, identity), update=self.training)
        prediction = self._decode_normalised(quantizer_output.quantized, identity)[:, :frames].float()
        reconstruction_loss = self._split_smooth_l1(prediction, target)
        if frames > 1:
            velocity_loss = self._split_smooth_l1(prediction.diff(dim=1), target.diff(dim=1))
        else:
            velocity_loss = prediction.new_zeros(())
        commit_loss = quantizer_output.commit_loss.float()
        config = self.config
        loss = (
            config.reconstruction_weight * reconstruction_loss
            + config.commit_weight * commit_loss
            + config.velocity_weight * velocity_loss
        )
        output = IdentityVQVAEOutput(
            loss=loss,
            reconstruction=self._denormalise(prediction),
            codes=quantizer_output.codes,
            reconstruction_loss=reconstruction_loss,
            commit_loss=commit_loss,
            velocity_loss=velocity_loss,
            perplexity=quantizer_output.perplexity,
        )
        return_dict = return_dict if return_dict is not None else config.return_dict
        return output if return_dict else output.to_tuple()

    @torch.no_grad()
    def encode(self, motion: torch.FloatTensor, identity: torch.FloatTensor | None = None) -> IdentityVQVAEEncoderOutput:
        r"""Motion to codes (no codebook update).

        Args:
            motion (`torch.FloatTensor` of shape `(batch, frames, motion_dim)`): raw motion, at least
                `config.min_frames` frames (more than `downsample_rate` with the instance-norm encoder).
            identity (`torch.FloatTensor` of shape `(batch, identity_dim)`, *optional*): the performer's identity;
                required with `encoder_norm="identity"` (the paper's instance-norm encoder needs none and ignores
                it).

        Returns:
            [`IdentityVQVAEEncoderOutput`] with `codes (batch, ceil(frames / downsample_rate))` and `latents`.
        """
        motion = self._normalised_motion(motion)
        identity = self._checked_identity(identity, motion.shape[0], "motion", parts=("encoder",))
        latents = self._encode_normalised(motion, identity)
        return IdentityVQVAEEncoderOutput(codes=self.quantizer(latents).codes, latents=latents)

    @torch.no_grad()
    def decode(
        self, codes: torch.LongTensor, identity: torch.FloatTensor | None = None
    ) -> IdentityVQVAEDecoderOutput:
        r"""Codes to raw motion in the style of `identity`.

        Args:
            codes (`torch.LongTensor` of shape `(batch, codes_len)`): indices in `[0, codebook_size)`; at least
                `config.min_codes` per row (2 with an instance-norm or AdaIN decoder).
            identity (`torch.FloatTensor` of shape `(batch, identity_dim)`, *optional*): required when the
                decoder is adaptive.

        Returns:
            [`IdentityVQVAEDecoderOutput`] with raw `motion (batch, codes_len * downsample_rate, motion_dim)`.
        """
        codes = torch.as_tensor(codes, device=self.motion_mean.device)
        if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] == 0:
            raise ValueError(
                f"codes must have shape (batch, codes_len) with both > 0, got {tuple(codes.shape)}"
            )
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        if codes.shape[1] < self.config.min_codes:
            raise ValueError(
                f"codes has {codes.shape[1]} code per row: the decoder's {self.config.decoder_norm} norm normalises "
                f"each channel over time, so it needs at least {self.config.min_codes} codes; from one it would "
                "decode the same motion whatever the code"
            )
        size = self.config.codebook_size
        if codes.min() < 0 or codes.max() >= size:
            raise ValueError(
                f"codes must be in [0, {size}), got values in [{int(codes.min())}, {int(codes.max())}]"
            )
        identity = self._checked_identity(identity, codes.shape[0], "codes")
        vectors = self.quantizer.lookup(codes.long()).to(self.decoder.conv_in.weight.dtype)
        return IdentityVQVAEDecoderOutput(
            motion=self._denormalise(self._decode_normalised(vectors, identity))
        )


IdentityVQVAE.register_for_auto_class("AutoModel")

__all__ = [
    "EMAVectorQuantizer",
    "IdentityVQVAE",
    "IdentityVQVAEDecoderOutput",
    "IdentityVQVAEEncoderOutput",
    "IdentityVQVAEOutput",
    "IdentityVQVAEPreTrainedModel",
    "VectorQuantizerOutput",
]
