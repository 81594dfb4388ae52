"""Console scripts as a shell runs them: exit status 0 on success (so `a && b` chains), non-zero on bad input.

The scripts are the wrappers pip generated in this venv's `bin/` (`sys.exit(main())`), run in subprocesses.
"""

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)
TINY_VQVAE = "hidden_size=16,codebook_dim=16,codebook_size=16,num_residual_layers=1"
TINY_GPT2 = "n_layer=1,n_embd=16,n_head=2,n_positions=1024"


def _run(script: str, *flags, timeout: float = 300) -> subprocess.CompletedProcess:
    path = os.path.join(BIN, script)
    assert os.path.isfile(path), f"{script} is not installed in {BIN}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([path, *map(str, flags)], capture_output=True, text=True, env=env, timeout=timeout)


def test_training_chain_exits_zero_at_every_step(dataset_dir, tmp_path):
    common = ["--cpu", "True", "--report_to", "none", "--checkpointing_steps", "0", "--eval_steps", "0"]
    steps = [
        ("mmlistener-train-vqvae", "--dataset_path", dataset_dir, "--output_dir", tmp_path / "vqvae", "--max_steps", 1,
         "--per_device_train_batch_size", 2, "--config_overrides", TINY_VQVAE, *common),
        ("mmlistener-tokenize", "--dataset_path", dataset_dir, "--vqvae_path", tmp_path / "vqvae",
         "--output_path", tmp_path / "tokens", "--cpu", "True"),
        ("mmlistener-train-lm", "--dataset_path", tmp_path / "tokens", "--output_dir", tmp_path / "lm",
         "--max_steps", 1, "--per_device_train_batch_size", 2, "--stage", "speaker",
         "--backbone_config_overrides", TINY_GPT2, "--max_eval_windows", 1, *common),
        ("mmlistener-evaluate", "--dataset_dir", tmp_path / "tokens", "--systems", "random",
         "--output_dir", tmp_path / "eval"),
    ]
    for script, *flags in steps:
        result = _run(script, *flags)
        assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stderr[-3000:]}"
        # the return value of the Python API is not dumped to the terminal by the console wrapper
        assert "TrainResult(" not in result.stderr and "DatasetDict(" not in result.stderr, script
    assert (tmp_path / "lm" / "model.safetensors").is_file()
    assert (tmp_path / "eval" / "results.json").is_file()


def test_demo_script_exits_zero(tmp_path):
    result = _run(
        "mmlistener-demo", "--output_dir", tmp_path / "demo", "--num_train", 3, "--num_val", 1, "--num_test", 2,
        "--vqvae_steps", 2, "--vqvae_batch_size", 2, "--vqvae_config_overrides", TINY_VQVAE, "--lm_stage1_steps", 1,
        "--lm_stage2_steps", 1, "--lm_batch_size", 2, "--backbone_config_overrides", TINY_GPT2,
        "--systems", "random",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "demo" / "results.json").is_file()


@pytest.mark.parametrize(
    "script", ["mmlistener-train-vqvae", "mmlistener-tokenize", "mmlistener-train-lm", "mmlistener-evaluate",
               "mmlistener-demo", "mmlistener-stream"],
)
def test_bad_argument_exits_with_a_usage_error(script):
    result = _run(script, "--no_such_flag", "1")
    assert result.returncode == 2  # argparse's status for a usage error
    assert f"{script}: error:" in result.stderr


def test_unknown_flag_beside_valid_ones_is_named(tmp_path):
    result = _run("mmlistener-demo", "--output_dir", tmp_path, "--no_such_flag", "1")
    assert result.returncode == 2
    assert "unrecognized arguments: --no_such_flag 1" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing ran


def test_missing_input_exits_non_zero(tmp_path):
    result = _run("mmlistener-evaluate", "--dataset_dir", tmp_path / "missing")
    assert result.returncode != 0
    assert "missing" in result.stderr
