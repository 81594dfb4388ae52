"""ListenerForCausalLM: a causal LM backbone reading interleaved speaker tokens and writing listener tokens.

The backbone (any causal LM of transformers: GPT-2, LLaMA, ...) is wrapped, not copied. Its vocabulary
is extended for the new blocks of the [`TokenLayout`] (listener, acoustic, content, emotion codes and
the special tokens): `resize_token_embeddings` grows the input embeddings *and* the backbone's own
LM head (tied to the input embeddings when the backbone ties them, as GPT-2 does), so the LM head
scores the full extended vocabulary for stage 1. The text rows keep their values; the new rows are
drawn from `normal(0, initializer_range)`. A separate listener head maps hidden states to the
`num_listener_tokens` listener classes for stage 2 and generation.

This file imports nothing from mmlistener but its configuration and `quantization.py` (relative imports):
the three are copied next to saved weights so that `AutoModelForCausalLM.from_pretrained(dir,
trust_remote_code=True)` works where mmlistener is not installed.
"""

import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import transformers
from packaging import version
from torch import nn
from transformers import AutoModelForCausalLM, GenerationConfig, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache
from transformers.generation import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.utils import ModelOutput
from transformers.utils.deprecation import deprecate_kwarg

from .configuration_listener import ListenerConfig
from .quantization import quantize_backbone

IGNORE_INDEX = -100


# The one version-dependent name of this file. transformers 5.24 renamed the key/value cache from
# `past_key_values` to `cache`, both as the models' `forward` argument and as the field of their outputs;
# 5.0-5.23 know only `past_key_values`. This model follows the new naming (`forward(cache=...)`,
# `output.cache`) on every release and speaks the backbone's own name to the backbone.
_BACKBONE_CACHE_NAME = "cache" if version.parse(transformers.__version__).release >= (5, 24) else "past_key_values"


@dataclass
class ListenerCausalLMOutput(ModelOutput):
    r"""Output of [`ListenerForCausalLM.forward`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): `lm_loss + listener_loss` (those present), plus
            `config.future_code_loss_weight * future_code_loss` when the model predicts future codes.
        lm_loss (`torch.FloatTensor` of shape `()`, *optional*): stage-1 next-token cross-entropy of the LM
            head over the full extended vocabulary, on labels outside the listener block.
        listener_loss (`torch.FloatTensor` of shape `()`, *optional*): stage-2 cross-entropy of the listener
            head, on labels inside the listener block.
        future_code_loss (`torch.FloatTensor` of shape `()`, *optional*): with `config.future_codes = K > 0`,
            the mean over k = 1..K of the cross-entropy of future head k, which predicts at each scored listener
            position the scored listener code k places after its own in the same row.
        logits (`torch.FloatTensor` of shape `(batch, kept, vocab_size)`, *optional*): LM-head logits over the
            extended vocabulary at the kept positions (see `logits_to_keep`).
        listener_logits (`torch.FloatTensor` of shape `(batch, seq, num_listener_tokens)`): listener-head
            logits; position `t` predicts the listener code at `t + 1`.
        cache ([`Cache`], *optional*): the backbone's key/value cache (named `past_key_values` by
            transformers before 5.24).
        hidden_states, attentions (`tuple(torch.FloatTensor)`, *optional*): the backbone's, when asked for.
    """

    loss: torch.FloatTensor | None = None
    lm_loss: torch.FloatTensor | None = None
    listener_loss: torch.FloatTensor | None = None
    future_code_loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    listener_logits: torch.FloatTensor | None = None
    cache: Cache | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


class ListenerGenerationConfig(GenerationConfig):
    r"""[`GenerationConfig`] of [`ListenerForCausalLM.generate`]: greedy by default.

    The usual fields apply to the listener logits of each group: `do_sample`, `temperature`, `top_k`,
    `top_p` (through transformers' logits warpers), and `guidance_scale`: a classifier-free-guidance-style
    contrast. With a scale `s` other than `None` or 1, each sample is also run without its `guidance_streams`
    (the same listener codes, the speaker's other streams), and the code is picked from
    `log p_without + s * (log p_with - log p_without)`: `s > 1` sharpens what those streams add, `s = 0`
    ignores them. It costs a second sample per sample. Three fields are added:

    Args:
        seed (`int`, *optional*): seed of a private `torch.Generator` for sampling (the global RNG is left
            alone); `None` samples from the global RNG.
        window_keep_fraction (`float`, defaults to 0.5): when the sequence outgrows the backbone's positions,
            the oldest groups are dropped until history + kept groups + the next group's speaker tokens fill
            at most this fraction of the positions; the window is then re-prefilled (see `generate`).
        guidance_streams (`list[str]`, defaults to `["words"]`): what the contrast leaves out, among `"words"`
            (history included), `"acoustic"`, `"content"` and `"emotion"`. A model trained with the same streams
            dropped now and then (`--stream_dropout`) knows the contrast's inputs.
    """

    def __init__(
        self,
        seed: int | None = None,
        window_keep_fraction: float = 0.5,
        guidance_streams: Sequence[str] = ("words",),
        **kwargs,
    ):
        kwargs.setdefault("do_sample", False)
        if not 0.0 < float(window_keep_fraction) <= 1.0:
            raise ValueError(f"window_keep_fraction must lie in (0, 1], got {window_keep_fraction}")
        super().__init__(**kwargs)
        self.seed = seed
        self.window_keep_fraction = window_keep_fraction
        self.guidance_streams = list(guidance_streams)


# the fields ListenerGenerationConfig adds to GenerationConfig
ADDED_GENERATION_FIELDS = ("seed", "window_keep_fraction", "guidance_streams")


@dataclass
class SampleTokens:
    """One sample's real tokens cut for generation: history, then per group (prefix | slot + suffix).

    Args:
        history (`torch.LongTensor` of shape `(history_len,)`): the history words' ids.
        prefixes (`list[torch.LongTensor]`): per group, its speaker tokens up to and including `<lr>`.
        suffixes (`list[torch.LongTensor]`): per group, from its listener slot (index 0) to its end.
    """

    history: torch.LongTensor
    prefixes: list[torch.LongTensor]
    suffixes: list[torch.LongTensor]

    @property
    def num_groups(self) -> int:
        return len(self.prefixes)

    def group_length(self, g: int) -> int:
        return len(self.prefixes[g]) + len(self.suffixes[g])


@dataclass
class GenerationRun:
    """What generation keeps from one group to the next (see [`ListenerForCausalLM.start_generation`]).

    Args:
        samples (`list[SampleTokens]`): each sample's tokens; a stream appends each group's tokens as it comes.
        config ([`GenerationConfig`]): the validated settings (greedy or sampling, `window_keep_fraction`).
        processors ([`LogitsProcessorList`]): the config's warpers, then the caller's processors.
        generator (`torch.Generator`, *optional*): the private generator of a seeded sampling run.
        use_cache (`bool`): feed each group as one chunk through the KV cache; `False` recomputes the window.
        picked (`torch.LongTensor` of shape `(batch, groups_done)`): the codes picked so far.
        starts (`list[int]`): each sample's first kept group (the sliding window), then each contrast's.
        state (`dict`, *optional*): the KV cache, the running attention mask and each sample's next position.
        contrast (`list[SampleTokens]`, *optional*): a guided run's samples without the guidance streams, one per
            sample, extended to the sample's groups at each step.
    """

    samples: list[SampleTokens]
    config: GenerationConfig
    processors: LogitsProcessorList
    generator: torch.Generator | None
    use_cache: bool
    picked: torch.LongTensor
    starts: list[int]
    state: dict | None = None
    contrast: list[SampleTokens] | None = None


class ListenerPreTrainedModel(PreTrainedModel):
    config_class = ListenerConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True

    @torch.no_grad()
    def _init_weights(self, module):
        """Listener head: `normal(0, initializer_range)` weights, zero bias (the backbone inits its own)."""
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)


class ListenerForCausalLM(ListenerPreTrainedModel, GenerationMixin):
    r"""Listener language model: the backbone with an extended vocabulary and a listener head.

    Args:
        config ([`ListenerConfig`]): backbone config and token layout.
        backbone ([`PreTrainedModel`], *optional*): an already loaded causal LM to wrap (used by
            [`~ListenerForCausalLM.from_backbone`]); built from `config.backbone_config` when absent.

    Example:

    ```python
    >>> import torch
    >>> from transformers import GPT2Config
    >>> from mmlistener import ListenerConfig, ListenerForCausalLM
    >>> config = ListenerConfig(backbone_config=GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=100))
    >>> model = ListenerForCausalLM(config).eval()
    >>> model.get_input_embeddings().num_embeddings == config.layout.vocab_size
    True

    ```
    """

    def __init__(self, config: ListenerConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        layout = config.layout
        if backbone is None:
            backbone_config = copy.deepcopy(config.backbone_config)
            backbone_config.vocab_size = layout.vocab_size
            backbone = AutoModelForCausalLM.from_config(backbone_config)
        else:
            _extend_vocabulary(backbone, layout.vocab_size, self.config.initializer_range)
        self.backbone = backbone
        hidden_size = config.backbone_config.hidden_size
        self.listener_head = nn.Linear(hidden_size, config.num_listener_tokens)
        self.future_heads = nn.ModuleList(
            nn.Linear(hidden_size, config.num_listener_tokens) for _ in range(config.future_codes)
        )
        self.post_init()
        self.generation_config = ListenerGenerationConfig()

    @classmethod
    def from_backbone(
        cls,
        backbone: str | os.PathLike | PreTrainedModel,
        backbone_kwargs: dict | None = None,
        **config_kwargs,
    ) -> "ListenerForCausalLM":
        """Start from pretrained backbone weights: text rows kept, new rows and listener head random.

        Args:
            backbone (`str`, `os.PathLike` or [`PreTrainedModel`]): a Hub id (`"gpt2-medium"`), a local
                directory, or a loaded causal LM (its embeddings are resized in place).
            backbone_kwargs (`dict`, *optional*): passed to `AutoModelForCausalLM.from_pretrained`
                (e.g. `{"dtype": torch.bfloat16}`).
            config_kwargs: [`ListenerConfig`] fields (`num_listener_tokens`, `group_size`, ...).
        """
        if isinstance(backbone, (str, os.PathLike)):
            backbone = AutoModelForCausalLM.from_pretrained(backbone, **(backbone_kwargs or {}))
        elif not isinstance(backbone, PreTrainedModel):
            raise ValueError(f"backbone must be a name, a path or a PreTrainedModel, got {type(backbone).__name__}")
        if "backbone_config" in config_kwargs:
            raise ValueError("from_backbone takes the backbone's own config; do not pass backbone_config")
        config = ListenerConfig(backbone_config=copy.deepcopy(backbone.config), **config_kwargs)
        return cls(config, backbone=backbone)

    @classmethod
    def from_pretrained(cls, *args, quantization: str | None = None, **kwargs) -> "ListenerForCausalLM":
        """[`PreTrainedModel.from_pretrained`], then [`quantize_backbone`] when `quantization` is given.

        Args:
            quantization (`str`, *optional*): `"int8"` for int8 linear layers in the backbone's blocks (CPU
                inference); `None` keeps the saved float weights. Other arguments as in `from_pretrained`.
        """
        model = super().from_pretrained(*args, **kwargs)
        return model if quantization is None else quantize_backbone(model, quantization)

    def save_pretrained(self, *args, **kwargs):
        """[`PreTrainedModel.save_pretrained`]. A model quantized by [`quantize_backbone`] is refused: its int8
        weights are torch.ao's packed buffers, not parameters; save the float model and quantize after loading."""
        method = getattr(self, "backbone_quantization", None)
        if method is not None:
            raise ValueError(
                f"this model's backbone is quantized ({method}) and cannot be saved: save the float model, and "
                f"quantize after loading with ListenerForCausalLM.from_pretrained(path, quantization={method!r})"
            )
        return super().save_pretrained(*args, **kwargs)

    # -- embeddings (HF accessors) -------------------------------------------------------------------

    def get_input_embeddings(self) -> nn.Embedding:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding):
        self.backbone.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.backbone.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module):
        self.backbone.set_output_embeddings(value)

    # -- forward ----------------------------------------------------------------------------------------

    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        group_ids: torch.LongTensor | None = None,
        listener_slot_mask: torch.BoolTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> ListenerCausalLMOutput:
        r"""Run the backbone; score labels with the LM head (stage 1) or the listener head (stage 2).

        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq)`): ids of the extended vocabulary.
            attention_mask (`torch.LongTensor` of shape `(batch, seq)`, *optional*): 1 on real tokens.
            labels (`torch.LongTensor` of shape `(batch, seq)`, *optional*): aligned with `input_ids` (the
                model shifts), -100 where not scored. Labels in the listener block are scored by the listener
                head (target `label - listener_offset`), all others by the LM head over the full vocabulary.
            group_ids, listener_slot_mask (`torch.LongTensor` / `torch.BoolTensor` of shape `(batch, seq)`,
                *optional*): processor outputs; only `generate` reads them, `forward` accepts them so that a
                whole processor batch can be passed as `**batch`.
            position_ids, cache, inputs_embeds, use_cache, output_attentions, output_hidden_states:
                passed to the backbone's base model, as in any transformers causal LM.
            logits_to_keep (`int`, *optional*): LM-head logits are computed on the last `logits_to_keep`
                positions (0 = all). Defaults to all positions without `labels` and to none with `labels`:
                the losses are computed on the scored positions only, never on a `(batch, seq, vocab)` tensor.
            kwargs: accepted and unused (bookkeeping a trainer may add, such as `num_items_in_batch`).

        Returns:
            [`ListenerCausalLMOutput`].
        """
        if use_cache is None:  # training (labels) builds no cache; otherwise the backbone's default
            use_cache = labels is None and bool(getattr(self.backbone.config, "use_cache", False))
        outputs = self.backbone.base_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            **{_BACKBONE_CACHE_NAME: cache},
        )
        hidden = outputs.last_hidden_state
        listener_logits = self.listener_head(hidden)
        lm_loss = listener_loss = future_code_loss = loss = None
        if labels is not None:
            lm_loss, listener_loss, future_code_loss = self._losses(hidden, labels)
            parts = [part for part in (lm_loss, listener_loss) if part is not None]
            if future_code_loss is not None:
                parts.append(self.config.future_code_loss_weight * future_code_loss)
            loss = sum(parts[1:], parts[0])
        if logits_to_keep is None:
            logits_to_keep = 0 if labels is None else -1
        logits = None
        if logits_to_keep >= 0:
            kept = hidden if logits_to_keep == 0 else hidden[:, -logits_to_keep:]
            logits = self.get_output_embeddings()(kept)
        return ListenerCausalLMOutput(
            loss=loss,
            lm_loss=lm_loss,
            listener_loss=listener_loss,
            future_code_loss=future_code_loss,
            logits=logits,
            listener_logits=listener_logits,
            cache=getattr(outputs, _BACKBONE_CACHE_NAME) if use_cache else None,
            hidden_states=getattr(outputs, "hidden_states", None),
            attentions=getattr(outputs, "attentions", None),
        )

    def _losses(self, hidden: torch.Tensor, labels: torch.LongTensor):
        """Stage-1, stage-2 and future-code cross-entropies from the hidden states at the scored positions only."""
        if labels.shape != hidden.shape[:2]:
            raise ValueError(f"labels have shape {tuple(labels.shape)} but the inputs {tuple(hidden.shape[:2])}")
        layout = self.config.layout
        targets = labels[:, 1:].to(hidden.device)
        hidden = hidden[:, :-1]
        scored = targets != IGNORE_INDEX
        if not bool(scored.any()):
            raise ValueError("labels score no position (all -100 after the shift)")
        if bool(((targets < 0) & scored).any()) or bool((targets >= layout.vocab_size).any()):
            raise ValueError(f"labels must be -100 or ids in [0, {layout.vocab_size})")
        listener = scored & layout.is_listener_id(targets)
        speaker = scored & ~listener
        lm_loss = listener_loss = future_code_loss = None
        if bool(speaker.any()):
            logits = self.get_output_embeddings()(hidden[speaker])
            lm_loss = F.cross_entropy(logits.float(), targets[speaker])
        if bool(listener.any()):
            at_slots, codes = hidden[listener], targets[listener] - layout.listener_offset
            listener_loss = F.cross_entropy(self.listener_head(at_slots).float(), codes)
            future_code_loss = self._future_code_loss(at_slots, codes, listener.nonzero()[:, 0])
        return lm_loss, listener_loss, future_code_loss

    def _future_code_loss(self, hidden: torch.Tensor, codes: torch.Tensor, rows: torch.Tensor):
        """Mean cross-entropy of the future heads. `hidden (n, hidden)`, `codes (n,)` and `rows (n,)` are the scored
        listener positions in row-major order: head k predicts at position i the code of position i + k when it is in
        the same row. `None` without future heads or without such pairs."""
        losses = []
        for k, head in enumerate(self.future_heads, start=1):
            same_row = rows[:-k] == rows[k:]
            if bool(same_row.any()):
                logits = head(hidden[:-k][same_row])
                losses.append(F.cross_entropy(logits.float(), codes[k:][same_row]))
        return torch.stack(losses).mean() if losses else None

    # -- generation ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        listener_slot_mask: torch.BoolTensor | None = None,
        group_ids: torch.LongTensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | None = None,
        use_cache: bool = True,
        **kwargs,
    ) -> torch.LongTensor:
        r"""Listener codes of a processor batch, one per group, predicted group after group.

        1. Cut each sample into history and groups: group `g`'s *prefix* (its words, `<sa>`..`</sa>`,
           `<emo>`..`</emo>`, `<lr>`) and its *suffix* (the listener slot and what follows it in the group).
        2. Feed the history and group 0's prefix; read the listener head at `<lr>`; pick code 0.
        3. For each next group, feed the previous group's suffix with the picked code in the slot, then the
           group's prefix, as one chunk through the KV cache (never recomputing the prefix); pick the code.
           Samples whose chunks differ in length are right-padded inside the chunk; the padding is masked
           for every later token and the position ids count real tokens only, so a batch gives the codes of
           one-by-one generation.
        4. Sliding window: when history + kept groups + the next prefix would exceed the backbone's
           positions, the oldest groups are dropped (history kept) until it all fills at most
           `window_keep_fraction` of the positions, and the window is re-prefilled with fresh positions.

        Codes are picked greedily, or sampled when `do_sample=True` (`temperature`, `top_k`, `top_p` through
        transformers' warpers, then the caller's `logits_processor`, which sees the codes picked so far as
        its `input_ids`). With `guidance_scale` (see [`ListenerGenerationConfig`]) each sample's contrast, the same
        tokens without the `guidance_streams`, is generated beside it with the same codes, and the scores are the
        contrast's log-probabilities moved `guidance_scale` times the way the left-out streams move them.

        Args:
            input_ids, attention_mask, listener_slot_mask, group_ids (`torch.Tensor` of shape `(batch, seq)`):
                a processor batch (stage "listener"). Slot contents are ignored. Without `listener_slot_mask`,
                the token after each `<lr>` is a slot; without `group_ids`, history words count as group 0.
            generation_config ([`GenerationConfig`], *optional*): defaults to `self.generation_config`.
            logits_processor ([`LogitsProcessorList`], *optional*): appended after the config's warpers.
            use_cache (`bool`, defaults to `True`): `False` recomputes the whole window at every group (the
                reference path: greedy results are the same token for token).
            kwargs: `GenerationConfig` fields (`do_sample`, `temperature`, `seed`, ...); `labels` is ignored.

        Returns:
            `torch.LongTensor` of shape `(batch, num_groups)` in `[0, num_listener_tokens)`. A sample with fewer
            groups than the longest is padded by repeating its last code (trim to its own group count).
        """
        codes = list(
            self.generate_steps(
                input_ids,
                attention_mask=attention_mask,
                listener_slot_mask=listener_slot_mask,
                group_ids=group_ids,
                generation_config=generation_config,
                logits_processor=logits_processor,
                use_cache=use_cache,
                **kwargs,
            )
        )
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def generate_steps(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        listener_slot_mask: torch.BoolTensor | None = None,
        group_ids: torch.LongTensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | None = None,
        use_cache: bool = True,
        **kwargs,
    ) -> Iterator[torch.LongTensor]:
        """Same as [`~ListenerForCausalLM.generate`], yielding each group's codes `(batch,)` as soon as known.

        For streaming: group `g`'s codes only depend on speaker tokens of groups `0..g`.
        """
        kwargs.pop("labels", None)
        samples = self._cut_samples(input_ids, attention_mask, listener_slot_mask, group_ids)
        run = self.start_generation(samples, generation_config, logits_processor, use_cache, **kwargs)
        for _ in range(max(sample.num_groups for sample in samples)):
            yield self.generation_step(run)

    def start_generation(
        self,
        samples: list[SampleTokens],
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | None = None,
        use_cache: bool = True,
        **kwargs,
    ) -> GenerationRun:
        """A [`GenerationRun`] over `samples`, before its first group: what [`generation_step`] advances.

        `generate` cuts a processor batch into `samples` (step 1) and steps through all their groups; a stream
        (`mmlistener.streaming.ListenerStream`) starts with one sample holding only its history and appends each
        group's tokens before stepping. Arguments as in [`~ListenerForCausalLM.generate`].
        """
        config = copy.deepcopy(generation_config or self.generation_config)
        defaults = ListenerGenerationConfig()
        for name in ADDED_GENERATION_FIELDS:  # a plain GenerationConfig (one loaded from a model's folder) lacks some
            if not hasattr(config, name):
                setattr(config, name, getattr(defaults, name))
        unused = config.update(**kwargs)
        if unused:
            raise ValueError(f"generate got unknown arguments {sorted(unused)}")
        config.validate()
        keep_fraction = float(config.window_keep_fraction)
        if not 0.0 < keep_fraction <= 1.0:
            raise ValueError(f"window_keep_fraction must lie in (0, 1], got {keep_fraction}")
        generator = None
        if config.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(config.seed))
        contrast = None
        if config.guidance_scale is not None and float(config.guidance_scale) != 1.0:
            if float(config.guidance_scale) < 0:
                raise ValueError(f"guidance_scale must be at least 0, got {config.guidance_scale}")
            contrast = [
                SampleTokens(history=self._without_guidance_streams(sample.history, config), prefixes=[], suffixes=[])
                for sample in samples
            ]
        return GenerationRun(
            samples=samples,
            config=config,
            processors=self._code_processors(config, logits_processor),
            generator=generator,
            use_cache=use_cache,
            picked=torch.zeros((len(samples), 0), dtype=torch.long, device=self.device),
            starts=[0] * len(samples) * (1 if contrast is None else 2),
            contrast=contrast,
        )

    @torch.no_grad()
    def generation_step(self, run: GenerationRun) -> torch.LongTensor:
        """Steps 2-4 of `generate` for the next group `g = run.picked.shape[1]`: the codes `(batch,)` picked.

        Slides a sample's window when it would outgrow the positions, feeds group `g-1`'s suffix and group `g`'s
        prefix through the KV cache (or re-prefills the window), picks the code at `<lr>` and records it in
        `run`. A sample with fewer groups than `g + 1` repeats its last code.
        """
        samples, picked, starts = run.samples, run.picked, run.starts
        if run.contrast is not None:
            self._extend_contrast(run)
            samples, picked = samples + run.contrast, torch.cat([picked, picked])
        g = picked.shape[1]
        limit = self.config.max_position_embeddings
        keep_fraction = float(run.config.window_keep_fraction)
        active = [b for b, sample in enumerate(samples) if g < sample.num_groups]
        previous = list(starts)
        for b in active:
            starts[b] = self._window_start(samples[b], g, starts[b], limit, keep_fraction)
        refill = g == 0 or not run.use_cache or any(starts[b] != previous[b] for b in active)
        if refill:
            chunks = [self._window(samples[b], picked[b], starts[b], g) for b in range(len(samples))]
        else:
            chunks = [self._step_chunk(samples[b], picked[b], g) for b in range(len(samples))]
        hidden, run.state = self._feed(chunks, None if refill else run.state, run.use_cache)
        scores = self.listener_head(hidden).float()
        if run.contrast is not None:
            with_streams, without = scores.log_softmax(dim=-1).chunk(2)
            scores = without + float(run.config.guidance_scale) * (with_streams - without)
        scores = run.processors(run.picked, scores)
        if run.config.do_sample:
            probs = torch.softmax(scores, dim=-1)
            step = torch.multinomial(probs, 1, generator=run.generator).squeeze(1)
        else:
            step = scores.argmax(dim=-1)
        done = torch.tensor([g >= sample.num_groups for sample in run.samples], device=self.device)
        if bool(done.any()):
            step = torch.where(done, run.picked[:, -1], step)
        run.picked = torch.cat([run.picked, step[:, None]], dim=1)
        return step

    def _without_guidance_streams(self, ids: torch.LongTensor, config: GenerationConfig) -> torch.LongTensor:
        """`ids` without the tokens of the config's `guidance_streams` (the contrast of a guided run)."""
        dropped = torch.zeros_like(ids, dtype=torch.bool)
        for stream in config.guidance_streams:
            dropped |= self.config.layout.stream_mask(ids, stream)
        return ids[~dropped]

    def _extend_contrast(self, run: GenerationRun) -> None:
        """Give each contrast sample its sample's groups that it lacks (a stream appends groups as they close)."""
        for sample, contrast in zip(run.samples, run.contrast):
            for g in range(contrast.num_groups, sample.num_groups):
                contrast.prefixes.append(self._without_guidance_streams(sample.prefixes[g], run.config))
                contrast.suffixes.append(sample.suffixes[g])

    def _code_processors(self, config: GenerationConfig, extra: LogitsProcessorList | None) -> LogitsProcessorList:
        processors = LogitsProcessorList()
        if config.do_sample:
            if config.temperature is not None and config.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(config.temperature))
            if config.top_k is not None and config.top_k != 0:
                processors.append(TopKLogitsWarper(top_k=config.top_k, min_tokens_to_keep=1))
            if config.top_p is not None and config.top_p < 1.0:
                processors.append(TopPLogitsWarper(top_p=config.top_p, min_tokens_to_keep=1))
        processors.extend(extra or [])
        return processors

    def _cut_samples(self, input_ids, attention_mask, listener_slot_mask, group_ids) -> list[SampleTokens]:
        """Step 1 of `generate`: per sample, history and per-group prefix/suffix of the real tokens."""
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must have shape (batch, seq), got {tuple(input_ids.shape)}")
        layout = self.config.layout
        input_ids = input_ids.to(self.device)
        real = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        if listener_slot_mask is None:
            after_lr = torch.zeros_like(real)
            after_lr[:, 1:] = input_ids[:, :-1] == layout.token_id("<lr>")
            listener_slot_mask = after_lr
        samples = []
        for b in range(input_ids.shape[0]):
            keep = real[b].to(input_ids.device)
            ids = input_ids[b][keep]
            slots = torch.nonzero(listener_slot_mask[b].to(keep.device)[keep]).flatten().tolist()
            if not slots:
                raise ValueError(
                    f"sample {b} has no listener slot: generate needs a stage-'listener' batch "
                    "(listener_slot_mask or <lr> tokens)"
                )
            if slots[0] == 0:
                raise ValueError(f"sample {b}: a listener slot cannot be the first token")
            if group_ids is None:
                history_end = 0
                ends = [_after_closing(ids, slot, layout.token_id("</lr>")) for slot in slots[:-1]] + [len(ids)]
            else:
                groups = group_ids[b].to(keep.device)[keep]
                history_end = _first_group_start(groups)
                if [int(groups[slot]) for slot in slots] != list(range(len(slots))):
                    raise ValueError(f"sample {b}: listener slots must sit in groups 0, 1, 2, ... in order")
                ends = _group_ends(groups, len(slots))
            starts = [history_end] + ends[:-1]
            prefixes = [ids[start:slot] for start, slot in zip(starts, slots)]
            suffixes = [ids[slot:end] for slot, end in zip(slots, ends)]
            if any(len(suffix) == 0 for suffix in suffixes):
                raise ValueError(f"sample {b}: listener slots and groups do not line up")
            samples.append(SampleTokens(history=ids[:history_end], prefixes=prefixes, suffixes=suffixes))
        return samples

    @staticmethod
    def _window_start(sample: SampleTokens, g: int, start: int, limit: int, keep_fraction: float) -> int:
        """First kept group when predicting group `g` (step 4 of `generate`)."""
        if g >= sample.num_groups:
            return start
        fixed = len(sample.history) + len(sample.prefixes[g])
        if fixed > limit:
            raise ValueError(
                f"history ({len(sample.history)} tokens) and group {g}'s speaker tokens ({len(sample.prefixes[g])}) "
                f"exceed the backbone's {limit} positions: shorten the history or the group"
            )
        length = fixed + sum(sample.group_length(j) for j in range(start, g))
        if length <= limit:
            return start
        target = keep_fraction * limit
        while start < g and length > target:
            length -= sample.group_length(start)
            start += 1
        return start

    def _window(self, sample: SampleTokens, picked: torch.LongTensor, start: int, g: int) -> torch.LongTensor:
        """History, groups `start..g-1` with their picked codes, then group `g`'s prefix."""
        if g >= sample.num_groups:
            g = sample.num_groups - 1  # finished sample: keep feeding its last window, its codes are fixed
        pieces = [sample.history]
        for j in range(start, g):
            pieces += [sample.prefixes[j], _filled(sample.suffixes[j], self._listener_id(picked[j]))]
        pieces.append(sample.prefixes[g])
        return torch.cat(pieces)

    def _step_chunk(self, sample: SampleTokens, picked: torch.LongTensor, g: int) -> torch.LongTensor:
        """Group `g-1`'s suffix with its picked code, then group `g`'s prefix (step 3 of `generate`)."""
        if g >= sample.num_groups:
            return sample.prefixes[-1][-1:]  # finished sample: a filler token; its codes are already fixed
        return torch.cat([_filled(sample.suffixes[g - 1], self._listener_id(picked[g - 1])), sample.prefixes[g]])

    def _listener_id(self, code: torch.LongTensor) -> int:
        return self.config.layout.listener_offset + int(code)

    def _feed(self, chunks: list[torch.LongTensor], state: dict | None, use_cache: bool):
        """Run one right-padded chunk per sample; return the hidden state at each chunk's last real token.

        `state` holds the cache, the running attention mask and the next position of each sample; `None`
        starts a fresh window.
        """
        layout = self.config.layout
        lengths = torch.tensor([len(chunk) for chunk in chunks], device=self.device)
        width = int(lengths.max())
        ids = torch.full((len(chunks), width), layout.pad_token_id, dtype=torch.long, device=self.device)
        for b, chunk in enumerate(chunks):
            ids[b, : len(chunk)] = chunk
        chunk_mask = torch.arange(width, device=self.device)[None, :] < lengths[:, None]
        if state is None:
            state = {"cache": None, "mask": chunk_mask.long()[:, :0], "next": torch.zeros_like(lengths)}
        mask = torch.cat([state["mask"], chunk_mask.long()], dim=1)
        limit = self.config.max_position_embeddings
        positions = (state["next"][:, None] + torch.arange(width, device=self.device)[None, :]).clamp(max=limit - 1)
        outputs = self.backbone.base_model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=use_cache,
            return_dict=True,
            **{_BACKBONE_CACHE_NAME: state["cache"]},
        )
        hidden = outputs.last_hidden_state[torch.arange(len(chunks), device=self.device), lengths - 1]
        new_state = {"cache": getattr(outputs, _BACKBONE_CACHE_NAME), "mask": mask, "next": state["next"] + lengths}
        return hidden, new_state


def _filled(suffix: torch.LongTensor, listener_id: int) -> torch.LongTensor:
    """The group's suffix with its listener slot (index 0) holding `listener_id`."""
    filled = suffix.clone()
    filled[0] = listener_id
    return filled


def _group_ends(groups: torch.LongTensor, num_groups: int) -> list[int]:
    """For each group `g < num_groups`, one past the last token whose group id is `<= g`, in one pass over the
    `groups (seq,)`: the suffix minimum is non-decreasing, and its last value `<= g` sits at that token."""
    suffix_min = groups.flip(0).cummin(0).values.flip(0)
    targets = torch.arange(num_groups, device=groups.device, dtype=groups.dtype)
    return torch.searchsorted(suffix_min, targets, right=True).tolist()


def _first_group_start(groups: torch.LongTensor) -> int:
    inside = torch.nonzero(groups >= 0).flatten()
    return int(inside[0]) if len(inside) else len(groups)


def _after_closing(ids: torch.LongTensor, slot: int, closing_id: int) -> int:
    """End of the group whose slot is `slot`: just after its `</lr>` when present, else just after the slot."""
    return slot + 2 if slot + 1 < len(ids) and int(ids[slot + 1]) == closing_id else slot + 1


def _extend_vocabulary(backbone: PreTrainedModel, vocab_size: int, std: float) -> None:
    """Resize a pretrained backbone's embeddings (and untied LM head) to `vocab_size`; new rows ~ N(0, std)."""
    old = backbone.get_input_embeddings().num_embeddings
    if old > vocab_size:
        raise ValueError(f"the backbone already has {old} embeddings, more than the extended vocabulary {vocab_size}")
    backbone.resize_token_embeddings(vocab_size, mean_resizing=False)
    with torch.no_grad():
        backbone.get_input_embeddings().weight[old:].normal_(0.0, std)
        head = backbone.get_output_embeddings()
        if head is not None and head.weight is not backbone.get_input_embeddings().weight:
            head.weight[old:].normal_(0.0, std)
            if getattr(head, "bias", None) is not None:
                head.bias[old:].zero_()
    for module in backbone.modules():
        module._is_hf_initialized = True
        for param in module.parameters(recurse=False):
            param._is_hf_initialized = True


ListenerConfig.register_for_auto_class()
ListenerForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "GenerationRun",
    "ListenerCausalLMOutput",
    "ListenerForCausalLM",
    "ListenerGenerationConfig",
    "ListenerPreTrainedModel",
    "SampleTokens",
]
