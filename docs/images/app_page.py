"""Draw `docs/images/app.png`: the locked app's page (`mmlistener-app --models ...`) as a headless Chromium shows it.

    .venv/bin/python docs/images/app_page.py [--out docs/images/app.png] [--models NAME=LM_DIR:VQVAE_DIR ...]

Without `--models` it serves tiny random models made here (a model named "demo" that reads the weight-free prosody
codes and emotion, so no checkpoint is needed); the page is the same whatever the models. Needs a Chromium
(`chromium-headless-shell` or `chromium`, or `MMLISTENER_BROWSER=/path`) and the `app` extra. `make docs-images`
runs it with the other images' scripts.
"""

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def tiny_models(root: Path) -> str:
    """Save a tiny random LM (with its processor) and VQ-VAE under `root`; their `--models` spec."""
    import torch
    from transformers import GPT2Config

    from mmlistener import (
        IdentityVQVAE,
        IdentityVQVAEConfig,
        ListenerConfig,
        ListenerForCausalLM,
        ListenerProcessor,
    )
    from mmlistener.processing.tokenizer import gpt2_tokenizer_from_tiktoken

    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=16, n_head=2, n_positions=1024)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=16)
    ListenerForCausalLM(config).save_pretrained(root / "lm")
    ListenerProcessor.from_listener_config(tokenizer, config, modalities=("acoustic", "emotion"),
                                           acoustic_codec_type="prosody").save_pretrained(root / "lm")  # fmt: skip
    vqvae = IdentityVQVAEConfig(hidden_size=16, codebook_dim=16, codebook_size=16, num_residual_layers=1)
    IdentityVQVAE(vqvae).save_pretrained(root / "vqvae")
    return f"demo={root / 'lm'}:{root / 'vqvae'}"


def browser() -> str:
    """The path of a Chromium, or a SystemExit saying how to get one."""
    candidates = [os.environ.get("MMLISTENER_BROWSER"), *map(shutil.which, BROWSERS)]
    found = next((path for path in candidates if path and os.path.isfile(path)), None)
    if found is None:
        raise SystemExit("no Chromium: apt-get install chromium-headless-shell, or set MMLISTENER_BROWSER=/path/to/chrome")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/app.png")
    parser.add_argument("--models", nargs="+", help="NAME=LM_DIR:VQVAE_DIR specs (default: tiny random models)")
    args = parser.parse_args()
    chromium = browser()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        os.environ["GRADIO_TEMP_DIR"] = str(Path(folder) / "gradio")
        from mmlistener.cli.app import AppArguments, launch

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        models = args.models or [tiny_models(Path(folder))]
        app = launch(AppArguments(models=models, server_name="127.0.0.1", server_port=port),
                     prevent_thread_lock=True, quiet=True)  # fmt: skip
        try:
            # virtual time runs the page's scripts for 20 s; any host but this one fails at once (no internet)
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
                 "--virtual-time-budget=20000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                 f"--user-data-dir={Path(folder) / 'profile'}", f"--screenshot={Path(args.out).resolve()}",
                 app.local_url],
                capture_output=True, timeout=180, check=True, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            app.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
