"""The mmlistener app as a Hugging Face Space (`sdk: gradio`, `app_file: app.py`): see docs/app.md.

All of the app lives in the package (`mmlistener.cli.app`); this file only launches it. Model folders come
from the Space's variables MMLISTENER_MODEL, MMLISTENER_VQVAE, MMLISTENER_ASR_CHECKPOINT and
MMLISTENER_SPEECHTOKENIZER_CHECKPOINT.
"""

from mmlistener.cli.app import main

if __name__ == "__main__":
    main()
