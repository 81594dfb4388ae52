"""`bench/reproduce_gpu.py` end to end on CPU with `configs/reproduce_gpu_tiny.yaml`, and its installer's errors."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "reproduce_gpu.py"


def _installer():
    spec = importlib.util.spec_from_file_location("bench_reproduce_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`(stdout, gpu_report.json)` of the script on the tiny config, beside a two-seed CPU study's report."""
    out = tmp_path_factory.mktemp("reproduce_gpu")
    cpu_report = out / "report.json"
    cpu_report.write_text(json.dumps({"seeds": {
        "0": {"results": {"random": {"l2": 1.5, "fd": 70.0, "p_fd": 72.0}}},
        "1": {"results": {"random": {"l2": 1.7, "fd": 74.0, "p_fd": 76.0}}},
    }}))
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(ROOT / "configs" / "reproduce_gpu_tiny.yaml"),
         "--output_dir", str(out / "run"), "--cpu_report", str(cpu_report)],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout, json.loads((out / "run" / "gpu_report.json").read_text())


def test_tiny_run_trains_and_scores_every_system(tiny_run):
    stdout, report = tiny_run
    systems = set(report["settings"]["systems"]) | {"ours"}
    assert set(report["results"]) == systems | {"GT"}
    for name in systems:
        for metric in ("l2", "fd", "p_fd"):
            assert math.isfinite(report["results"][name][metric]) and report["results"][name][metric] > 0
        assert f"| {name} | {report['results'][name]['l2']:.4f} |" in stdout


def test_tiny_run_reports_throughput_and_no_gpu_memory_on_cpu(tiny_run):
    stdout, report = tiny_run
    assert set(report["throughput"]) == {"VQ-VAE (tokens: motion frames)", "LM stage 1", "LM stage 2"}
    for row in report["throughput"].values():
        assert row["steps_per_second"] > 0 and row["samples_per_second"] > 0
        assert row["tokens_per_second"] == pytest.approx(row["samples_per_second"] * row["tokens_per_sample"])
    # an LM window is its speaker tokens plus one listener token per 8 frames: more tokens than its 30 groups
    assert report["throughput"]["LM stage 2"]["tokens_per_sample"] > 240 // 8
    assert report["device"] == "cpu"
    assert report["peak_memory_bytes"] == {"VQ-VAE": None, "LM stages 1 and 2": None}
    assert "VQ-VAE unavailable (no CUDA device), LM stages 1 and 2 unavailable (no CUDA device)" in stdout


def test_tiny_run_prints_the_cpu_study_beside_it(tiny_run):
    stdout, report = tiny_run
    assert report["cpu_study"]["random"] == pytest.approx({"l2": 1.6, "fd": 72.0, "p_fd": 74.0})
    ours = report["results"]["random"]
    assert f"| random | {ours['l2']:.4f} | 1.6000 | {ours['fd']:.4f} | 72.0000 | {ours['p_fd']:.4f} | 74.0000 |" in stdout
    assert f"| ours | {report['results']['ours']['l2']:.4f} | – |" in stdout


def test_installer_pins_every_distribution_from_constraints():
    installer = _installer()
    pins = installer.pinned(installer.RUN_DISTRIBUTIONS)
    assert "datasets==" + installer.importlib.metadata.version("datasets") in pins
    assert installer.missing(pins) == []  # this venv has them all: nothing would be installed here
    with pytest.raises(ValueError, match="pins no version of \\['no-such-distribution'\\]"):
        installer.pinned(["no-such-distribution"])


def test_installer_names_the_command_that_fills_the_wheel_folder(tmp_path):
    installer = _installer()
    with pytest.raises(SystemExit) as error:
        installer.pip_install(["no-such-distribution==1.0"], ["no-such-distribution==1.0"], tmp_path)
    message = str(error.value)
    assert f"could not install no-such-distribution==1.0 from {tmp_path}" in message
    assert f"pip download --no-deps --python-version {sys.version_info.major}.{sys.version_info.minor} " in message
    assert message.rstrip().endswith(f"-d {tmp_path} no-such-distribution==1.0")
