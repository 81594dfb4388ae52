"""Training entry points: argument files, the data order, a 2-process run, and exact resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mmlistener.arguments import parse_arguments
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.training.arguments import DataArguments, LoopArguments, VQVAEArguments
from mmlistener.training.loop import EpochBatches, find_checkpoint, list_checkpoints, lr_lambda
from mmlistener.training.tokenize_motion import listener_codes, tokenize_splits

TINY_VQVAE = "hidden_size=16,codebook_dim=16,codebook_size=16,num_residual_layers=1"


def _vqvae_args(dataset_dir, output_dir, max_steps, **extra):
    args = {
        "dataset_path": dataset_dir,
        "output_dir": str(output_dir),
        "max_steps": max_steps,
        "per_device_train_batch_size": 4,
        "config_overrides": TINY_VQVAE,
        "checkpointing_steps": 2,
        "checkpoints_total_limit": 2,
        "eval_steps": 0,
        "logging_steps": 2,
        "cpu": True,
        "seed": 3,
        **extra,
    }
    flags = []
    for name, value in args.items():
        flags += [f"--{name}", str(value)]
    return flags


def _env():
    # one thread per process: two processes on two cores
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def test_arguments_from_yaml_with_command_line_overrides(tmp_path):
    settings = tmp_path / "run.yaml"
    settings.write_text(
        "dataset_path: data/trevor\noutput_dir: out\nmax_steps: 300000\nlr_decay_steps: [200000]\n"
        "config_overrides: codebook_size=256\n"
    )
    loop, data, model = parse_arguments(
        (LoopArguments, DataArguments, VQVAEArguments), [str(settings), "--max_steps", "7"]
    )
    assert (loop.max_steps, loop.lr_decay_steps, loop.output_dir) == (7, [200000], "out")
    assert (data.dataset_path, model.config_overrides) == ("data/trevor", "codebook_size=256")
    with pytest.raises(ValueError, match="mixed_precision"):
        parse_arguments((LoopArguments,), ["--output_dir", "o", "--mixed_precision", "fp8"])
    with pytest.raises(FileNotFoundError, match="no settings file"):
        parse_arguments((LoopArguments,), [str(tmp_path / "missing.json")])


def test_repo_configs_parse():
    """Every settings file in configs/ is read by the entry point it names in its folder."""
    from mmlistener.training.arguments import ListenerModelArguments

    root = os.path.join(os.path.dirname(__file__), "..", "configs")
    kinds = {"vqvae": (LoopArguments, DataArguments, VQVAEArguments),
             "lm": (LoopArguments, DataArguments, ListenerModelArguments)}
    checked = 0
    for dataset in ("trevor", "realtalk"):
        for name in sorted(os.listdir(os.path.join(root, dataset))):
            kind = "vqvae" if name.startswith("vqvae") else "lm"
            parsed = parse_arguments(kinds[kind], [os.path.join(root, dataset, name)])
            assert parsed[0].max_steps > 0
            checked += 1
    assert checked >= 8


def test_accelerate_configs_load():
    from accelerate.commands.config.config_args import ClusterConfig

    root = os.path.join(os.path.dirname(__file__), "..", "configs", "accelerate")
    kinds = {name: str(ClusterConfig.from_yaml_file(os.path.join(root, f"{name}.yaml")).distributed_type)
             for name in ("multi_gpu", "multi_node", "fsdp", "deepspeed_zero2", "deepspeed_zero3", "cpu_2_processes")}
    assert kinds["fsdp"].endswith("FSDP") and kinds["deepspeed_zero3"].endswith("DEEPSPEED")
    assert kinds["multi_node"].endswith("MULTI_GPU") and kinds["cpu_2_processes"].endswith("MULTI_GPU")


def test_epoch_batches_resume_where_they_stopped_and_split_processes():
    full = EpochBatches(10, batch_size=2, seed=1)
    stream = iter(full)
    first = [next(stream) for _ in range(12)]  # 5 batches per epoch: crosses two epoch boundaries
    resumed = iter(EpochBatches(10, batch_size=2, seed=1, start=7))
    assert [next(resumed) for _ in range(5)] == first[7:]
    assert sorted(sum(first[:5], [])) == list(range(10))
    assert first[:5] != first[5:10]  # a new order each epoch
    shards = [iter(EpochBatches(9, batch_size=2, num_processes=2, process_index=p, seed=0)) for p in (0, 1)]
    batches = [[next(shard) for _ in range(2)] for shard in shards]
    assert not set(sum(batches[0], [])) & set(sum(batches[1], []))
    with pytest.raises(ValueError, match="cannot fill one batch"):
        EpochBatches(3, batch_size=2, num_processes=2)


def test_learning_rate_schedule():
    args = LoopArguments(output_dir="o", warmup_steps=4, lr_decay_steps=[10, 20], lr_decay_gamma=0.1)
    factor = lr_lambda(args)
    assert [factor(step) for step in (0, 3, 9, 10, 25)] == pytest.approx([0.25, 1.0, 1.0, 0.1, 0.01])


def test_two_process_cpu_run_trains_and_checkpoints(dataset_dir, tmp_path):
    output = tmp_path / "vqvae"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "mmlistener.training.train_vqvae",
        *_vqvae_args(dataset_dir, output, max_steps=6, report_to="tensorboard"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    checkpoints = list_checkpoints(str(output))
    assert [os.path.basename(path) for path in checkpoints] == ["step_4", "step_6"]  # total limit 2
    # one random state per process: both processes took part
    assert sorted(name for name in os.listdir(checkpoints[-1]) if name.startswith("random_states")) == [
        "random_states_0.pkl",
        "random_states_1.pkl",
    ]
    assert os.listdir(output / "logs")
    model = IdentityVQVAE.from_pretrained(str(output))
    assert model.quantizer.initialized.item()
    assert not torch.allclose(model.motion_std, torch.ones_like(model.motion_std))  # statistics were set
    assert "## Training settings" in (output / "README.md").read_text()


def test_killed_run_resumes_to_the_same_step_and_weights(dataset_dir, tmp_path):
    module = [sys.executable, "-m", "mmlistener.training.train_vqvae"]
    steps = 30
    straight = tmp_path / "straight"
    run = subprocess.run(module + _vqvae_args(dataset_dir, straight, steps, report_to="none"),
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]

    killed = tmp_path / "killed"
    process = subprocess.Popen(module + _vqvae_args(dataset_dir, killed, steps, report_to="none"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
                               start_new_session=True)
    deadline = time.time() + 240
    while not (killed / "checkpoints" / "step_2").is_dir() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "model.safetensors").exists(), "the run finished before it could be killed"
    stopped_at = int(os.path.basename(find_checkpoint(str(killed), "latest")).split("_")[1])
    assert stopped_at < steps

    run = subprocess.run(
        module + _vqvae_args(dataset_dir, killed, steps, report_to="none", resume_from_checkpoint="latest"),
        capture_output=True, text=True, env=_env(), timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "resumed from" in run.stdout + run.stderr
    final = torch.load(os.path.join(find_checkpoint(str(killed), "latest"), "custom_checkpoint_1.pkl"),
                       weights_only=True)
    assert final == {"step": steps}
    expected, resumed = load_file(straight / "model.safetensors"), load_file(killed / "model.safetensors")
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=0, atol=0, msg=name)


def test_tokenize_adds_one_code_per_group_the_partial_last_one_included(dataset_dir, tmp_path):
    from mmlistener.data.collators import load_splits
    from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
    from mmlistener.training.arguments import parse_config_overrides

    torch.manual_seed(0)
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(**parse_config_overrides(TINY_VQVAE))).eval()
    splits = tokenize_splits(load_splits(dataset_dir), vqvae, batch_size=3)
    assert any(len(motion) % 8 for split in splits.values() for motion in split["listener_motion"])
    for split in splits.values():
        for motion, codes in zip(split["listener_motion"], split["listener_codes"]):
            assert len(codes) == -(-len(motion) // 8)
            assert all(0 <= code < 16 for code in codes)
    window = np.asarray(splits["train"][0]["listener_motion"], dtype=np.float32)
    alone = listener_codes(vqvae, [window])[0]
    assert alone == splits["train"][0]["listener_codes"]  # batching does not change a window's codes
    with pytest.raises(ValueError, match="fewer than one group"):
        listener_codes(vqvae, [window[:5]])
    json.dumps(alone)  # plain ints, storable in Arrow


def test_tokenize_gives_an_identity_norm_encoder_each_window_s_listener(dataset_dir):
    from mmlistener.data.collators import load_splits
    from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
    from mmlistener.training.arguments import parse_config_overrides

    torch.manual_seed(0)
    config = IdentityVQVAEConfig(**parse_config_overrides(TINY_VQVAE), encoder_norm="identity")
    vqvae = IdentityVQVAE(config).eval()
    with torch.no_grad():  # a strong identity map, so that another listener would give other codes
        vqvae.encoder.norm_motion.style.weight.normal_(0.0, 0.5)
    train = tokenize_splits(load_splits(dataset_dir), vqvae, batch_size=3)["train"]
    window = train[0]
    motion = torch.tensor(np.asarray(window["listener_motion"], dtype=np.float32))[None]
    own = vqvae.encode(motion, identity=torch.tensor([window["listener_identity"]])).codes[0].tolist()
    assert window["listener_codes"] == own
    other = vqvae.encode(motion, identity=torch.zeros(1, 100)).codes[0].tolist()
    assert other != own  # the column really comes from the window's own identity
    with pytest.raises(ValueError, match="encoder_norm='identity' needs the listener identity"):
        listener_codes(vqvae, [np.asarray(window["listener_motion"], dtype=np.float32)])
    with pytest.raises(ValueError, match="got 2 identities for 1 windows"):
        listener_codes(vqvae, [np.asarray(window["listener_motion"], dtype=np.float32)], identities=[0, 1])


TINY_GPT2 = "n_layer=1,n_embd=16,n_head=2,n_positions=1024"
# the demo's family (`model_type` picks the config class; GPT-2 without it)
TINY_LLAMA = ("model_type=llama,hidden_size=16,intermediate_size=32,num_hidden_layers=1,num_attention_heads=2,"
              "max_position_embeddings=1024,tie_word_embeddings=true")


@pytest.fixture(scope="module")
def tokenised_dir(dataset_dir, tmp_path_factory):
    from mmlistener.data.collators import load_splits
    from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
    from mmlistener.training.arguments import parse_config_overrides

    torch.manual_seed(0)
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(**parse_config_overrides(TINY_VQVAE)))
    path = str(tmp_path_factory.mktemp("tokens") / "dataset")
    tokenize_splits(load_splits(dataset_dir), vqvae).save_to_disk(path)
    return path


def _lm_flags(dataset, output, steps, **extra):
    settings = {"dataset_path": dataset, "output_dir": str(output), "max_steps": steps, "cpu": True,
                "per_device_train_batch_size": 2, "checkpointing_steps": 0, "report_to": "none",
                "max_eval_windows": 2, **extra}
    return [item for name, value in settings.items() for item in (f"--{name}", str(value))]


def _train_losses(result) -> list[float]:
    """The training loss of every logged step of a run, in step order (`logging_steps=1`)."""
    return [record["train/loss"] for record in result.log_history if "train/loss" in record]


@pytest.mark.parametrize("backbone, model_type", [(TINY_GPT2, "gpt2"), (TINY_LLAMA, "llama")])
def test_listener_stages_train_and_save_model_processor_and_card(tokenised_dir, tmp_path, backbone, model_type):
    from transformers import AutoModelForCausalLM, AutoProcessor

    from mmlistener.training import train_listener

    fast = {"logging_steps": 1, "learning_rate": 0.003}  # 8 steps at this rate lower each stage's loss visibly
    stage1 = train_listener.parse_and_run(_lm_flags(
        tokenised_dir, tmp_path / "stage1", 8, stage="speaker", backbone_config_overrides=backbone, **fast
    ))
    assert stage1.step == 8 and np.isfinite(stage1.train_loss) and np.isfinite(stage1.eval_loss)
    before = load_file(tmp_path / "stage1" / "model.safetensors")
    stage2 = train_listener.parse_and_run(_lm_flags(
        tokenised_dir, tmp_path / "stage2", 8, stage="listener", model_name_or_path=tmp_path / "stage1", **fast
    ))
    assert stage2.step == 8
    for result in (stage1, stage2):
        losses = _train_losses(result)
        assert len(losses) == 8 and all(np.isfinite(losses))
        assert losses[-1] < losses[0] - 0.1, losses  # the loss falls (a rising one is as finite)
    after = load_file(tmp_path / "stage2" / "model.safetensors")
    assert not torch.equal(before["listener_head.weight"], after["listener_head.weight"])  # stage 2 trains it
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "stage2")
    processor = AutoProcessor.from_pretrained(tmp_path / "stage2")
    assert type(model).__name__ == "ListenerForCausalLM"
    assert model.backbone.config.model_type == model_type
    # the tied LM head is saved once and tied again on loading: the trained embeddings, not fresh rows
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert torch.equal(model.get_input_embeddings().weight, after["backbone.model.embed_tokens.weight" if
                       model_type == "llama" else "backbone.transformer.wte.weight"])
    assert processor.layout == model.config.layout
    card = (tmp_path / "stage2" / "README.md").read_text()
    assert "stage 2, listener fine-tuning" in card and "- steps: 8" in card
    results = json.loads((tmp_path / "stage2" / "train_results.json").read_text())
    assert results["step"] == 8 and results["samples_per_second"] > 0
    assert [record["train/loss"] for record in results["log_history"] if "train/loss" in record] == _train_losses(
        stage2
    )


def test_emotion_dropout_saves_a_processor_that_omits_emotion_without_a_face(tokenised_dir, tmp_path):
    from transformers import AutoProcessor

    from mmlistener.training import train_listener

    for dropout, expected in ((0.5, "omit"), (0.0, "neutral")):
        train_listener.parse_and_run(_lm_flags(
            tokenised_dir, tmp_path / str(dropout), 2, stage="listener", backbone_config_overrides=TINY_GPT2,
            stream_dropout=dropout, dropped_streams="emotion",
        ))  # fmt: skip
        assert AutoProcessor.from_pretrained(tmp_path / str(dropout)).emotion_without_face == expected


def test_future_codes_train_heads_saved_with_the_model_and_continued_runs_keep_them(tokenised_dir, tmp_path):
    from mmlistener.training import train_listener
    from mmlistener.training.arguments import ListenerModelArguments

    train_listener.parse_and_run(_lm_flags(
        tokenised_dir, tmp_path / "a", 2, stage="listener", backbone_config_overrides=TINY_GPT2, future_codes=2,
    ))  # fmt: skip
    saved = load_file(tmp_path / "a" / "model.safetensors")
    assert {"future_heads.0.weight", "future_heads.1.weight"} <= set(saved)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["future_codes"] == 2
    # continued without the flag, a run keeps the saved heads and trains them on
    train_listener.parse_and_run(_lm_flags(tokenised_dir, tmp_path / "b", 1, stage="listener",
                                           model_name_or_path=tmp_path / "a", learning_rate=0.01))  # fmt: skip
    again = load_file(tmp_path / "b" / "model.safetensors")
    assert not torch.equal(saved["future_heads.1.weight"], again["future_heads.1.weight"])
    with pytest.raises(ValueError, match="--future_codes is for --stage listener"):
        ListenerModelArguments(stage="speaker", future_codes=2)
    with pytest.raises(ValueError, match="LoRA would freeze"):
        ListenerModelArguments(stage="listener", future_codes=2, use_lora=True)


def test_listener_stage_needs_codes_and_a_starting_point(dataset_dir, tmp_path):
    from mmlistener.training import train_listener

    with pytest.raises(ValueError, match="run mmlistener-tokenize"):
        train_listener.parse_and_run(_lm_flags(dataset_dir, tmp_path / "x", 1, stage="listener",
                                      backbone_config_overrides=TINY_GPT2))
    with pytest.raises(ValueError, match="say where the model starts"):
        train_listener.parse_and_run(_lm_flags(dataset_dir, tmp_path / "x", 1, stage="speaker"))


def test_lora_run_trains_adapters_and_new_rows_and_merges_them(tokenised_dir, tmp_path):
    from transformers import GPT2Config

    from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerProcessor
    from mmlistener.processing.tokenizer import gpt2_tokenizer_from_tiktoken
    from mmlistener.training import train_listener
    from mmlistener.training.arguments import parse_config_overrides

    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer_from_tiktoken()
    config = ListenerConfig(backbone_config=GPT2Config(vocab_size=len(tokenizer), **parse_config_overrides(TINY_GPT2)))
    ListenerForCausalLM(config).save_pretrained(tmp_path / "start")
    ListenerProcessor.from_listener_config(tokenizer, config).save_pretrained(tmp_path / "start")
    train_listener.parse_and_run(_lm_flags(
        tokenised_dir, tmp_path / "lora", 2, stage="listener", model_name_or_path=tmp_path / "start",
        use_lora=True, lora_r=2, lora_target_modules="c_attn", learning_rate=0.01, eval_split="",
    ))
    start, trained = load_file(tmp_path / "start" / "model.safetensors"), load_file(tmp_path / "lora" / "model.safetensors")
    assert trained.keys() == start.keys()  # adapters merged: a plain ListenerForCausalLM
    changed = {name for name in start if not torch.equal(start[name], trained[name])}
    assert "listener_head.weight" in changed  # fully trained next to the adapters
    assert any(name.endswith("attn.c_attn.weight") for name in changed)  # the merged LoRA update
    assert not any(name.endswith("mlp.c_fc.weight") for name in changed)  # not a LoRA target: frozen
    ListenerForCausalLM.from_pretrained(tmp_path / "lora")


def test_fresh_lm_takes_its_listener_layout_from_the_vqvae_and_a_mismatch_is_refused(tokenised_dir, tmp_path):
    from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
    from mmlistener.training import train_listener
    from mmlistener.training.arguments import ListenerModelArguments, parse_config_overrides

    with pytest.raises(ValueError, match="Unrecognized model identifier: nonesuch"):
        train_listener.build_model(ListenerModelArguments(backbone_config_overrides="model_type=nonesuch,n_layer=1"),
                                   text_vocab_size=100)  # fmt: skip
    vqvae_config = IdentityVQVAEConfig(**parse_config_overrides(TINY_VQVAE), downsample_rate=4)
    args = ListenerModelArguments(stage="speaker", backbone_config_overrides=TINY_GPT2)
    model = train_listener.build_model(args, text_vocab_size=100, vqvae_config=vqvae_config)
    assert (model.config.num_listener_tokens, model.config.group_size) == (16, 4)
    IdentityVQVAE(vqvae_config).save_pretrained(tmp_path / "vqvae")
    # a model continued from a checkpoint of the default layout (256 codes, 8 frames) does not fit this VQ-VAE
    train_listener.parse_and_run(_lm_flags(tokenised_dir, tmp_path / "start", 1, stage="speaker",
                                           backbone_config_overrides=TINY_GPT2))
    with pytest.raises(ValueError, match="disagree on the codebook size: model 256, processor 256, VQ-VAE 16"):
        train_listener.parse_and_run(_lm_flags(tokenised_dir, tmp_path / "x", 1, stage="listener",
                                               model_name_or_path=tmp_path / "start", vqvae_path=tmp_path / "vqvae"))
