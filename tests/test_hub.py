"""Model cards: template filling, model-index metadata from the results table, card updates, Auto loading."""

import subprocess
import sys

import pytest
from huggingface_hub import ModelCard
from transformers import GPT2Config

from mmlistener.hub import (
    add_results_to_card,
    build_model_card,
    eval_results,
    push_folder_to_hub,
    save_model_card,
    template_path,
)
from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
from mmlistener.modeling.configuration_listener import ListenerConfig
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE

RESULTS = {
    "GT": {"variation": 0.08, "diversity": 2.4},
    "random": {"l2": 0.61, "fd": 21.0, "variation": 0.07, "diversity": 2.2, "p_fd": 23.0},
    "ours": {"l2": 0.28, "fd": 9.8, "variation": 0.076, "diversity": 2.33, "p_fd": 11.1, "l2_affect": 0.0266},
}


def _listener_config():
    return ListenerConfig(backbone_config=GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=100))


def test_listener_card_has_model_index_and_the_required_sections():
    card = build_model_card(
        "listener",
        _listener_config(),
        dataset_name="data/trevor",
        training_settings={"steps": 20000, "learning rate": 1e-4},
        results=RESULTS,
        results_row="ours",
        repo_id="me/mmlistener-trevor",
        base_model="gpt2-medium",
        stage="listener",
        modalities=["words", "acoustic", "emotion"],
    )
    index = card.data.to_dict()["model-index"][0]
    metrics = {metric["type"]: metric["value"] for metric in index["results"][0]["metrics"]}
    assert metrics == {key: RESULTS["ours"][key] for key in ("l2", "fd", "variation", "diversity", "p_fd", "l2_affect")}
    assert index["results"][0]["dataset"]["split"] == "test"
    assert card.data.base_model == "gpt2-medium"
    text = str(card)
    for needle in ("## Intended use", "## Training data", "- steps: 20000", "| ours |", "## Limitations",
                   "deepfake", "FLAME", "EMOCA", "me/mmlistener-trevor", "stage 2", "words, acoustic, emotion"):
        assert needle.lower() in text.lower(), needle
    assert "synthetic corpus only" not in text


def test_listener_card_says_what_loads_as_remote_code_and_what_to_install():
    """The model and the processor are Hub remote code; the pipeline needs the package, which the card names."""
    text = str(build_model_card("listener", _listener_config(), dataset_name="data/trevor", repo_id="me/lm"))
    assert 'pip install "mmlistener @ git+https://github.com/mmlistener/mmlistener"' in text
    assert 'AutoModelForCausalLM.from_pretrained("me/lm", trust_remote_code=True)' in text
    assert 'AutoProcessor.from_pretrained("me/lm", trust_remote_code=True)' in text
    assert "pip install --no-deps openai-whisper speechtokenizer" in text


def test_vqvae_card_and_synthetic_data_note():
    config = IdentityVQVAEConfig(codebook_size=64)
    card = build_model_card("vqvae", config, dataset_name="outputs/demo/dataset_synthetic")
    text = str(card)
    assert "one code out of\n64 per 8 frames" in text
    assert "synthetic corpus only" in text
    assert "synthetic-data" in card.data.tags
    assert card.data.to_dict().get("model-index") is None  # nothing evaluated, no metadata invented
    with pytest.raises(ValueError, match="kind must be one of"):
        template_path("emotion")


def test_eval_results_skip_missing_metrics_and_name_the_row():
    entries = eval_results(RESULTS, "random", "trevor")
    assert sorted(entry.metric_type for entry in entries) == ["diversity", "fd", "l2", "p_fd", "variation"]
    with pytest.raises(ValueError, match="no row 'model'"):
        eval_results(RESULTS, "model", "trevor")


def test_saved_card_gets_the_results_afterwards(tmp_path):
    save_model_card(tmp_path, kind="listener", config=_listener_config(), dataset_name="data/trevor", stage="speaker")
    before = ModelCard.load(tmp_path / "README.md")
    assert "Not evaluated yet" in before.text
    add_results_to_card(tmp_path, RESULTS, "ours", "trevor")
    after = ModelCard.load(tmp_path / "README.md")
    assert "Not evaluated yet" not in after.text and "| random |" in after.text
    assert "## Limitations" in after.text  # the sections after Evaluation are kept
    assert {entry.metric_type for entry in after.data.eval_results} >= {"l2", "fd"}
    with pytest.raises(FileNotFoundError, match="no model card"):
        add_results_to_card(tmp_path / "missing", RESULTS, "ours", "trevor")


def test_push_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        push_folder_to_hub(tmp_path, "me/model")


def test_saved_vqvae_with_card_loads_through_auto_classes_in_a_fresh_process(tmp_path):
    model = IdentityVQVAE(IdentityVQVAEConfig(hidden_size=16, codebook_dim=16, codebook_size=8, num_residual_layers=1))
    model.save_pretrained(tmp_path)
    save_model_card(tmp_path, kind="vqvae", config=model.config, dataset_name="data/trevor")
    code = (
        "import sys, mmlistener; from transformers import AutoModel; "
        f"m = AutoModel.from_pretrained({str(tmp_path)!r}); "
        "print(type(m).__name__, m.config.codebook_size)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["IdentityVQVAE", "8"]
