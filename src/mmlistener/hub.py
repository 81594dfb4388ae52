"""Model cards (`huggingface_hub.ModelCard`) for saved mmlistener models, and pushing them to the Hub.

The templates are `hub_cards/model_card.md` (listener LM) and `hub_cards/vqvae_card.md` (VQ-VAE),
installed as `mmlistener.hub_cards`. The evaluation table, when given, becomes the card's
`model-index` metadata (one entry per metric) and a markdown table in the text.

```python
from mmlistener.hub import save_model_card
save_model_card("outputs/lm", kind="listener", config=model.config, dataset_name="L2L-trevor",
                results=json.load(open("outputs/results.json")), results_row="model:outputs/lm")
```
"""

import importlib.resources
import math
from collections.abc import Mapping
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

KINDS = {"listener": "model_card.md", "vqvae": "vqvae_card.md"}
# metric key in results.json -> metric name shown on the Hub
METRIC_NAMES = {
    "l2": "L2",
    "fd": "FD",
    "variation": "Variation",
    "diversity": "Diversity",
    "p_fd": "P-FD",
    "l2_affect": "L2 Affect",
}
TASK_TYPE = "listening-head-generation"
TAGS = ["mmlistener", "listening-head-generation", "flame", "3dmm", "motion-generation"]
SYNTHETIC_DATASET = "mmlistener-synthetic"


def template_path(kind: str) -> Path:
    """Path of the card template of `kind` (`"listener"` or `"vqvae"`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return Path(str(importlib.resources.files("mmlistener.hub_cards") / KINDS[kind]))


def eval_results(
    results: Mapping[str, Mapping[str, float]], row: str, dataset_name: str, split: str = "test"
) -> list[EvalResult]:
    """`model-index` entries for one row of a results table (`results.json`: system -> metric -> value)."""
    if row not in results:
        raise ValueError(f"the results have no row {row!r}; rows: {sorted(results)}")
    entries = []
    for key, name in METRIC_NAMES.items():
        value = results[row].get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        entries.append(
            EvalResult(
                task_type=TASK_TYPE,
                task_name="Listening head generation",
                dataset_type=dataset_name,
                dataset_name=dataset_name,
                dataset_split=split,
                metric_type=key,
                metric_name=name,
                metric_value=round(float(value), 6),
            )
        )
    return entries


def _settings_list(settings: Mapping | None) -> str:
    if not settings:
        return "Not recorded."
    return "\n".join(f"- {name}: {value}" for name, value in settings.items() if value is not None)


def _results_section(results, row, split: str) -> str:
    if not results:
        return "Not evaluated yet: run `python -m mmlistener.evaluation` and regenerate this card."
    from .evaluation.results import format_results_table

    note = f"Metrics on the {split} split (L2, FD, P-FD, L2 Affect: lower is better)"
    if row:
        note += f"; this model is the row `{row}`"
    return note + ".\n\n" + format_results_table(results)


def _dataset_description(dataset_name: str, synthetic: bool) -> str:
    if synthetic:
        return (
            "The package's synthetic dyadic corpus (`mmlistener.data.write_synthetic_corpus`): seeded speaker "
            "and listener FLAME-like motion with identity-dependent styles, timed words, acoustic codes and "
            "emotion labels. It exercises the pipeline end to end; it says nothing about real listeners."
        )
    return (
        f"`{dataset_name}`: windows of dyadic conversation built with `mmlistener.data` (speaker and listener "
        "FLAME motion from EMOCA, timed words, SpeechTokenizer codes, speaker emotion)."
    )


def build_model_card(
    kind: str,
    config,
    dataset_name: str,
    training_settings: Mapping | None = None,
    results: Mapping[str, Mapping[str, float]] | None = None,
    results_row: str | None = None,
    results_split: str = "test",
    repo_id: str | None = None,
    model_name: str | None = None,
    base_model: str | None = None,
    stage: str | None = None,
    modalities: list[str] | None = None,
    vqvae_path: str | None = None,
    license: str = "other",
) -> ModelCard:
    """A filled `ModelCard` for a listener LM (`kind="listener"`) or a VQ-VAE (`kind="vqvae"`).

    Args:
        kind (`str`): `"listener"` or `"vqvae"`.
        config: the model's config (`ListenerConfig` or `IdentityVQVAEConfig`).
        dataset_name (`str`): training data (a path, a Hub id or a name); `mmlistener-synthetic` or a path
            containing "synthetic" marks the synthetic corpus.
        training_settings (`dict`, *optional*): shown as a list (steps, batch size, learning rate, ...).
        results (`dict`, *optional*): `results.json` of the evaluation (system -> metric -> value).
        results_row (`str`, *optional*): this model's row in `results`; its metrics become `model-index`.
        results_split (`str`): split the results were computed on.
        repo_id (`str`, *optional*): Hub repository, used in the usage snippet.
        model_name (`str`, *optional*): card title (defaults to `repo_id` or a generic name).
        base_model (`str`, *optional*): pretrained backbone the model started from.
        stage (`str`, *optional*): `"speaker"` or `"listener"` (listener LM only).
        modalities (`list[str]`, *optional*): speaker streams of the processor (listener LM only).
        vqvae_path (`str`, *optional*): the VQ-VAE of the listener codes (listener LM only).
        license (`str`): licence identifier of the weights (`"other"`: see the card's licence notes).
    """
    synthetic = SYNTHETIC_DATASET in dataset_name or "synthetic" in Path(dataset_name).as_posix().lower()
    name = model_name or repo_id or ("mmlistener listener LM" if kind == "listener" else "mmlistener identity VQ-VAE")
    card_data = ModelCardData(
        library_name="mmlistener",
        license=license,
        license_name=None if license != "other" else "flame-emoca-research",
        license_link=None if license != "other" else "https://flame.is.tue.mpg.de/modellicense.html",
        tags=TAGS + (["synthetic-data"] if synthetic else []),
        base_model=base_model,
        model_name=name if results and results_row else None,
        eval_results=eval_results(results, results_row, dataset_name, results_split)
        if results and results_row
        else None,
    )
    values = {
        "model_name": name,
        "repo_or_path": repo_id or "path/to/this/model",
        "dataset_description": _dataset_description(dataset_name, synthetic),
        "training_settings": _settings_list(training_settings),
        "results_section": _results_section(results, results_row, results_split),
        "synthetic": synthetic,
    }
    if kind == "listener":
        backbone = config.backbone_config
        values.update(
            backbone=f"{backbone.model_type} ({getattr(backbone, 'num_hidden_layers', '?')} layers, "
            f"hidden size {getattr(backbone, 'hidden_size', '?')})",
            base_model=base_model,
            stage_description={
                "speaker": "stage 1, speaker understanding pretraining (next-token loss on speaker tokens)",
                "listener": "stage 2, listener fine-tuning (loss on listener tokens)",
            }.get(stage, "not recorded"),
            modalities=", ".join(modalities) if modalities else "not recorded",
            num_listener_tokens=config.num_listener_tokens,
            group_size=config.group_size,
            group_seconds=f"{config.group_size / config.fps:.3f}",
            fps=config.fps,
            vqvae_path=vqvae_path,
        )
    else:
        values.update(
            {
                name: getattr(config, name)
                for name in (
                    "motion_dim",
                    "identity_dim",
                    "codebook_size",
                    "downsample_rate",
                    "encoder_norm",
                    "decoder_norm",
                )
            }
        )
    return ModelCard.from_template(card_data, template_path=str(template_path(kind)), **values)


def save_model_card(output_dir: str | Path, **kwargs) -> Path:
    """Write `README.md` in `output_dir` from `build_model_card(**kwargs)`; returns its path."""
    path = Path(output_dir) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    build_model_card(**kwargs).save(path)
    return path


def add_results_to_card(
    model_dir: str | Path,
    results: Mapping[str, Mapping[str, float]],
    results_row: str,
    dataset_name: str,
    results_split: str = "test",
) -> Path:
    """Put an evaluation table into the saved card `model_dir/README.md`: `model-index` metadata from the
    row `results_row`, and the table in the card's Evaluation section. Returns the card's path."""
    path = Path(model_dir) / "README.md"
    if not path.is_file():
        raise FileNotFoundError(f"no model card at {path}: save the model (and its card) first")
    card = ModelCard.load(path)
    card.data.eval_results = eval_results(results, results_row, dataset_name, results_split)
    card.data.model_name = card.data.model_name or Path(model_dir).name
    head, marker, rest = card.text.partition("## Evaluation\n")
    if not marker:
        raise ValueError(f"{path} has no '## Evaluation' section to fill")
    _, next_heading, tail = rest.partition("\n## ")
    section = _results_section(results, results_row, results_split)
    card.text = head + marker + "\n" + section + "\n" + next_heading + tail
    card.save(path)
    return path


def push_folder_to_hub(folder: str | Path, repo_id: str, private: bool = True, commit_message: str | None = None):
    """Create `repo_id` if needed and upload a saved model folder (without `checkpoints/` and `logs/`)."""
    from huggingface_hub import HfApi

    if not Path(folder, "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json: save the model before pushing it")
    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message=commit_message or "Upload mmlistener model",
        ignore_patterns=["checkpoints/*", "logs/*"],
    )


__all__ = ["add_results_to_card", "build_model_card", "eval_results", "push_folder_to_hub", "save_model_card", "template_path"]
