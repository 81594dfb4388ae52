"""The token layout as the processor's files import it (`from .token_layout import ...`).

In the package this module hands on `mmlistener.modeling.token_layout`, the one definition. Beside a saved
processor (Hub remote code) the file of that name is the definition itself: `ListenerProcessor.save_pretrained`
writes `mmlistener/modeling/token_layout.py` there in this module's place, so the saved files import only each
other. The import below is absolute so that transformers' copy of the processor's relative imports does not try to
copy a file of another folder.
"""

from mmlistener.modeling.token_layout import SPECIAL_TOKENS, TokenLayout

__all__ = ["SPECIAL_TOKENS", "TokenLayout"]
