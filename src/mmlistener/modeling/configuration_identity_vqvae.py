"""Configuration of the identity-disentangled motion VQ-VAE."""

from transformers import PreTrainedConfig

from .constants import EXPRESSION_DIM, GROUP_SIZE, IDENTITY_DIM, MOTION_DIM

ENCODER_NORMS = ("none", "layer", "instance", "identity")
ENCODER_INPUT_NORMS = ("none", "instance")
DECODER_NORMS = ("none", "layer", "instance", "adaln", "adain")
ADAPTIVE_NORMS = ("adaln", "adain")
ACTIVATIONS = ("relu", "gelu", "silu")


class IdentityVQVAEConfig(PreTrainedConfig):
    r"""Configuration of [`IdentityVQVAE`]: a 1-D convolutional VQ-VAE over 3DMM motion frames whose
    encoder erases the listener's identity (instance norm) and whose decoder re-injects it (AdaIN from
    the FLAME shape beta). Defaults are the paper's (LM-Listener's T2M-GPT network, REFERENCE §2).

    Motion frames are `[expression (0:expression_dim), head rotation (3), jaw (3)]`; the head rotation
    part of the reconstruction loss is weighted by `pose_weight`.

    Args:
        motion_dim (`int`, defaults to 56): values per motion frame.
        identity_dim (`int`, defaults to 100): size of the identity vector (FLAME shape beta).
        codebook_size (`int`, defaults to 256): number of codes K (the listener vocabulary).
        codebook_dim (`int`, defaults to 512): size of each code vector.
        downsample_rate (`int`, defaults to 8): frames per code; a power of 2 (one stride-2 stage each).
        hidden_size (`int`, defaults to 512): channels of the convolutional encoder and decoder.
        num_residual_layers (`int`, defaults to 3): dilated residual units per stage ("depth").
        dilation_growth_rate (`int`, defaults to 3): dilation ratio between residual units; a stage runs
            them with dilations `growth ** (depth - 1), ..., growth, 1` (9, 3, 1 by default).
        activation (`str`, defaults to `"relu"`): one of `"relu"`, `"gelu"`, `"silu"`.
        encoder_norm (`str`, defaults to `"instance"`): `"none"`, `"layer"` (over channels, per frame),
            `"instance"` (over time, per channel and sequence: erases per-sequence statistics) or `"identity"`:
            no statistics over time anywhere; instead each input channel is standardised with a shift and a
            log-scale predicted from the identity by a linear map (`(x - shift(beta)) * exp(-log_scale(beta))`),
            which erases a style that is a per-channel affine map of the motion while leaving each code local in
            time (it reads only its frames' neighbourhood) and a level held through the whole window intact. The
            encoder then needs the identity (`encode(motion, identity=...)`). `"instance"` is the paper's.
        encoder_input_norm (`str`, defaults to `"none"`): `"instance"` normalises each of the `motion_dim`
            input channels over time (per sequence) before the first convolution. The `encoder_norm` layers
            act after that convolution has mixed the channels, so they remove a per-channel offset of the
            motion but not a per-channel scale; normalising the input channels removes both (a style that is
            a per-channel affine map of the motion is erased exactly). `"none"` is the paper's network.
        causal_encoder (`bool`, defaults to `False`): left-padded convolutions and cumulative statistics in the
            encoder's instance norms (steps `0..t` at step `t`), so that the code of a group depends on the
            frames up to the end of that group and on no later frame: the codes a listener LM is trained on
            then carry no information about the listener's future. `False` is the paper's network, whose codes
            depend on the whole window (symmetric convolutions, instance statistics over all frames).
        decoder_norm (`str`, defaults to `"adain"`): `"none"`, `"layer"`, `"instance"`, or the adaptive
            `"adaln"` / `"adain"` whose per-channel scale and shift are predicted from the identity.
        causal_decoder (`bool`, defaults to `False`): left-padded convolutions and cumulative statistics in the
            decoder too, so that the frames of code `k` depend on codes `0..k` only: a live listener
            (`mmlistener.streaming`) then hands out each code's frames exactly as decoding the whole window
            would. `False` is the paper's network, whose frames depend on the codes after them and on
            statistics over the whole window.
        norm_eps (`float`, defaults to 1e-5): epsilon of every normalisation.
        ema_decay (`float`, defaults to 0.99): decay of the codebook's EMA counts and sums.
        dead_code_threshold (`float`, defaults to 1.0): a code whose EMA count falls below this is
            replaced by a random encoder output of the current batch.
        commit_weight (`float`, defaults to 0.02): weight of the commitment loss.
        reconstruction_weight (`float`, defaults to 1.0): weight of the reconstruction loss.
        velocity_weight (`float`, defaults to 0.5): weight of the velocity (first difference) loss.
        pose_weight (`float`, defaults to 1.0): weight of the head-rotation part of the reconstruction
            and velocity losses (LM-Listener's `pose_alpha`; its paper value is *unverified*).
        expression_dim (`int`, defaults to 50): expression values at the start of a frame; the next 3 are
            the head rotation, the rest the jaw.
        initializer_range (`float`, defaults to 0.02): std of the adaptive-norm projections' weights.

    Example:

    ```python
    >>> from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
    >>> config = IdentityVQVAEConfig(hidden_size=32, codebook_size=16, codebook_dim=32)
    >>> model = IdentityVQVAE(config)
    >>> config.num_stages, config.is_adaptive
    (3, True)

    ```
    """

    model_type = "mmlistener_vqvae"

    motion_dim: int = MOTION_DIM
    identity_dim: int = IDENTITY_DIM
    codebook_size: int = 256
    codebook_dim: int = 512
    downsample_rate: int = GROUP_SIZE
    hidden_size: int = 512
    num_residual_layers: int = 3
    dilation_growth_rate: int = 3
    activation: str = "relu"
    encoder_norm: str = "instance"
    encoder_input_norm: str = "none"
    causal_encoder: bool = False
    decoder_norm: str = "adain"
    causal_decoder: bool = False
    norm_eps: float = 1e-5
    ema_decay: float = 0.99
    dead_code_threshold: float = 1.0
    commit_weight: float = 0.02
    reconstruction_weight: float = 1.0
    velocity_weight: float = 0.5
    pose_weight: float = 1.0
    expression_dim: int = EXPRESSION_DIM
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name in ("motion_dim", "identity_dim", "codebook_size", "codebook_dim", "hidden_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"IdentityVQVAEConfig.{name} must be positive, got {getattr(self, name)}")
        rate = self.downsample_rate
        if rate < 1 or rate & (rate - 1):
            raise ValueError(f"IdentityVQVAEConfig.downsample_rate must be a power of 2, got {rate}")
        if self.num_residual_layers < 0 or self.dilation_growth_rate < 1:
            raise ValueError(
                "IdentityVQVAEConfig needs num_residual_layers >= 0 and dilation_growth_rate >= 1, got "
                f"{self.num_residual_layers} and {self.dilation_growth_rate}"
            )
        if self.encoder_norm not in ENCODER_NORMS:
            raise ValueError(f"encoder_norm must be one of {ENCODER_NORMS}, got {self.encoder_norm!r}")
        if self.encoder_input_norm not in ENCODER_INPUT_NORMS:
            raise ValueError(
                f"encoder_input_norm must be one of {ENCODER_INPUT_NORMS}, got {self.encoder_input_norm!r}"
            )
        if self.encoder_norm == "identity" and self.encoder_input_norm != "none":
            raise ValueError(
                "encoder_norm='identity' standardises the input channels itself: encoder_input_norm must be 'none', "
                f"got {self.encoder_input_norm!r}"
            )
        if self.decoder_norm not in DECODER_NORMS:
            raise ValueError(f"decoder_norm must be one of {DECODER_NORMS}, got {self.decoder_norm!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0 < self.expression_dim <= self.motion_dim - 3:
            raise ValueError(
                f"expression_dim must leave 3 head-rotation dims in a {self.motion_dim}-dim frame, "
                f"got {self.expression_dim}"
            )

    @property
    def num_stages(self) -> int:
        """Stride-2 stages of the encoder (and upsampling stages of the decoder): log2(downsample_rate)."""
        return self.downsample_rate.bit_length() - 1

    @property
    def min_frames(self) -> int:
        """Fewest motion frames whose codes depend on the motion.

        An instance norm over time maps a single step to its bias: `encoder_norm="instance"` needs 2 latent
        steps (more than `downsample_rate` frames), `encoder_input_norm="instance"` 2 frames. With
        `causal_encoder` the statistics at step `t` are those of steps `0..t`, so the first latent step of any
        clip is such a single step: its code is the same for every input (a fixed start code), and the codes
        from the second step on carry the motion.
        """
        if self.encoder_norm == "instance":
            return self.downsample_rate + 1
        return 2 if self.encoder_input_norm == "instance" else 1

    @property
    def min_codes(self) -> int:
        """Fewest codes whose decoded motion depends on the codes: an instance norm over time (`"instance"`,
        `"adain"`) in the decoder maps the latents of a single code to its bias (or the identity's shift)."""
        return 2 if self.decoder_norm in ("instance", "adain") else 1

    @property
    def is_adaptive(self) -> bool:
        """Whether the decoder needs the identity (AdaIN / AdaLN)."""
        return self.decoder_norm in ADAPTIVE_NORMS

    @property
    def encoder_reads_identity(self) -> bool:
        """Whether the encoder needs the identity (`encoder_norm="identity"`)."""
        return self.encoder_norm == "identity"


IdentityVQVAEConfig.register_for_auto_class()

__all__ = ["IdentityVQVAEConfig", "ENCODER_NORMS", "ENCODER_INPUT_NORMS", "DECODER_NORMS"]
