"""The mmlistener app as a Hugging Face Space (`sdk: gradio`, `app_file: app.py`): the locked page (docs/app.md).

All of the app lives in the package (`mmlistener.cli.app`); this file only launches it, locked: it refuses to
serve a page with free paths. The Space's variables name what it offers: MMLISTENER_MODELS (`NAME=LM_DIR:VQVAE_DIR`
specs, separated by spaces), MMLISTENER_ASR_CHECKPOINT, MMLISTENER_SPEECHTOKENIZER_CHECKPOINT and, optionally,
MMLISTENER_LISTENER_DATASET (`DIR[:SPLIT]`); flags or a YAML file of settings (`python app.py space.yaml`) work too.
"""

from mmlistener.cli.app import main

if __name__ == "__main__":
    main(locked=True)
