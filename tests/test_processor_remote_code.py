"""ListenerProcessor as Hub remote code: a saved processor loads with `AutoProcessor(..., trust_remote_code=True)`
in a fresh interpreter where mmlistener cannot be imported, and encodes as the package's processor does."""

import json
import sys

import torch
from test_listener_model import listener_config, text_tokenizer
from test_pinned_outputs import clips
from transformers.dynamic_module_utils import get_imports

from mmlistener import ListenerProcessor
from mmlistener.processing.remote_code import MODELING_FILES

# what the saved files may import: the standard library and requirements of the package (setup.cfg)
ALLOWED_IMPORTS = set(sys.stdlib_module_names) | {"av", "librosa", "numpy", "soundfile", "soxr", "torch", "transformers"}

# The child first takes away every way to import mmlistener (the editable install's finder, any path to src/) and
# proves it: find_spec gives None.
NO_MMLISTENER = """
import importlib.util, sys
sys.meta_path = [finder for finder in sys.meta_path if "editable" not in getattr(finder, "__module__", "")]
sys.path = [entry for entry in sys.path if "mmlistener" not in entry and not entry.endswith("/src")]
assert importlib.util.find_spec("mmlistener") is None, "mmlistener is still importable"
"""


def saved_processor(tmp_path, **settings) -> ListenerProcessor:
    processor = ListenerProcessor.from_listener_config(text_tokenizer(), listener_config(), **settings)
    processor.save_pretrained(tmp_path / "processor")
    return processor


def test_a_saved_processor_holds_its_code_and_an_auto_map(tmp_path):
    saved_processor(tmp_path)
    folder = tmp_path / "processor"
    config = json.loads((folder / "processor_config.json").read_text())
    assert config["auto_map"] == {"AutoProcessor": "processing_listener.ListenerProcessor"}
    for name in MODELING_FILES:  # modeling's own files, not the package's hand-on modules
        assert "mmlistener" not in (folder / name).read_text().split('"""')[-1]
    for path in folder.glob("*.py"):
        assert set(get_imports(path)) <= ALLOWED_IMPORTS, path.name
        relative = [line for line in path.read_text().splitlines() if line.lstrip().startswith("from .")]
        assert all((folder / f"{line.split()[1][1:]}.py").is_file() for line in relative), path.name


def test_auto_processor_loads_it_where_mmlistener_is_not_importable(tmp_path, run_python):
    processor = saved_processor(tmp_path, modalities=("words", "acoustic", "content", "emotion"), history_seconds=1.0)
    inputs = clips()
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    expected = processor(**inputs, return_tensors="pt")
    result = run_python(
        NO_MMLISTENER
        + """
import json, sys, torch
from transformers import AutoProcessor
processor = AutoProcessor.from_pretrained("processor", trust_remote_code=True)
batch = processor(**json.load(open("inputs.json")), return_tensors="pt")
torch.save(dict(batch), "batch.pt")
print(type(processor).__module__, processor.history_seconds, "mmlistener" in sys.modules)
""",
        cwd=tmp_path,
        isolated=True,
    )
    module, history_seconds, imported = result.stdout.split()[-3:]
    assert module.startswith("transformers_modules.") and history_seconds == "1.0" and imported == "False"
    batch = torch.load(tmp_path / "batch.pt", weights_only=True)
    assert batch.keys() == expected.keys()
    for key in expected:
        assert torch.equal(batch[key], expected[key]), key
