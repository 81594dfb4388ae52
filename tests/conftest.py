"""Generic fixtures shared by the test files."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch


@pytest.fixture
def run_python(tmp_path):
    """Run Python code in a fresh interpreter (this venv's) and return the `CompletedProcess`.

    The child starts in a temporary directory, without `PYTHONPATH`, with its own `HF_HOME` and
    the Hub offline, so it sees nothing of this test process. `run_python(code, cwd=None,
    timeout=300, isolated=False)` raises `AssertionError` with the child's output when it exits non-zero;
    `isolated=True` runs it with `python -I` (no `PYTHON*` variables, no user site, no script folder on `sys.path`).
    """

    def run(code: str, cwd=None, timeout: float = 300, isolated: bool = False) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env.update(HF_HOME=str(tmp_path / "hf_home"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        result = subprocess.run(
            [sys.executable, *(["-I"] if isolated else []), "-c", textwrap.dedent(code)],
            cwd=cwd or tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"child failed:\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        return result

    return run


@pytest.fixture
def single_thread():
    """Run torch on one thread for the test (small models train faster and steadier that way)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory):
    """A small synthetic dataset saved with `save_to_disk`: 96-frame windows (12 listener tokens, short LM
    sequences) of 3 train, 1 validation and 1 test segment."""
    from mmlistener.data import L2LTrevor, build_dataset, write_synthetic_corpus

    root = tmp_path_factory.mktemp("small_dataset")
    corpus = write_synthetic_corpus(str(root / "corpus"), num_train=3, num_val=1, num_test=1, seed=0,
                                    min_frames=240, max_frames=300)
    splits = build_dataset(L2LTrevor, corpus, cache_dir=str(root / "cache"), verbose=False, window_frames=96, stride=96)
    splits.save_to_disk(str(root / "dataset"))
    return str(root / "dataset")


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """`make demo` on a small budget, run once per session: `(arguments, results, output folder)`."""
    from mmlistener.demo import DemoArguments, run_demo

    out = tmp_path_factory.mktemp("small_demo") / "demo"
    args = DemoArguments(
        output_dir=str(out),
        num_train=12,
        num_val=1,
        num_test=4,
        vqvae_steps=60,
        vqvae_batch_size=8,
        vqvae_config_overrides="hidden_size=32,codebook_dim=32,codebook_size=32,num_residual_layers=1",
        lm_stage1_steps=2,
        lm_stage2_steps=20,
        lm_batch_size=4,
        backbone_config_overrides="n_layer=1,n_embd=32,n_head=2,n_positions=1024",
        systems=["random", "nn_motion", "nn_speech"],
    )
    return args, run_demo(args), out
