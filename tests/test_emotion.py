import json

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

from mmlistener import EmotionRecognizer, EmotionRecognizerConfig
from mmlistener.modeling.convert_emoca_emotion import convert_emoca_checkpoint, convert_emoca_state_dict
from mmlistener.processing.emotion import group_emotion_ids


def tiny_recognizer(seed=0, **kwargs):
    torch.manual_seed(seed)
    return EmotionRecognizer(EmotionRecognizerConfig(hidden_size=16, **kwargs)).eval()


def test_forward_shapes_and_default_labels():
    model = tiny_recognizer()
    out = model(shape=torch.randn(5, 100), expression=torch.randn(5, 50), jaw_pose=torch.randn(5, 3))
    assert out.logits.shape == (5, 8) and out.valence.shape == (5,) and out.arousal.shape == (5,)
    assert torch.allclose(out.probabilities.sum(-1), torch.ones(5))
    assert model.config.id2label[0] == "Neutral" and model.config.id2label[7] == "Contempt"
    assert len(model.layers) == 4 and isinstance(model.layers[0].norm, torch.nn.BatchNorm1d)
    assert model.layers[0].activation.negative_slope == 0.2


def test_bad_inputs_are_named():
    model = tiny_recognizer()
    with pytest.raises(ValueError, match="expression must end in 50"):
        model(shape=torch.randn(2, 100), expression=torch.randn(2, 49), jaw_pose=torch.randn(2, 3))
    with pytest.raises(ValueError, match="batch size"):
        model(shape=torch.randn(2, 100), expression=torch.randn(3, 50), jaw_pose=torch.randn(2, 3))
    motion = torch.randn(10, 56)
    motion[3, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.predict_from_motion(motion, torch.randn(100))
    with pytest.raises(ValueError, match="activation"):
        EmotionRecognizerConfig(valence_activation="relu")


def test_predict_from_motion_reads_expression_and_jaw_only():
    model = tiny_recognizer()
    motion, shape = torch.randn(12, 56), torch.randn(100)
    out = model.predict_from_motion(motion, shape)
    assert out.logits.shape == (12, 8) and out.valence.shape == (12,)
    direct = model(shape=shape.expand(12, -1), expression=motion[:, :50], jaw_pose=motion[:, 53:56])
    torch.testing.assert_close(out.logits, direct.logits)
    head_turned = motion.clone()
    head_turned[:, 50:53] += 1.0  # global head rotation is not an input
    torch.testing.assert_close(model.predict_from_motion(head_turned, shape).logits, out.logits)
    jaw_moved = motion.clone()
    jaw_moved[:, 53:56] += 1.0
    assert not torch.allclose(model.predict_from_motion(jaw_moved, shape).logits, out.logits)
    batched = model.predict_from_motion(torch.stack([motion, motion]), torch.stack([shape, shape]))
    assert batched.logits.shape == (2, 12, 8)
    torch.testing.assert_close(batched.logits[1], out.logits)


def test_save_and_load_through_auto_classes(tmp_path):
    model = tiny_recognizer()
    with torch.no_grad():
        model.layers[0].norm.running_mean.uniform_(-1, 1)  # a buffer must survive too
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "mmlistener_emotion"
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, EmotionRecognizer) and not loaded.training
    inputs = {"shape": torch.randn(3, 100), "expression": torch.randn(3, 50), "jaw_pose": torch.randn(3, 3)}
    torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits)


def fake_emoca_state_dict(hidden=24, layers=4, outputs=10, seed=0):
    """An EmoDECA-style state dict: `mlp.model.<i>` (Linear, BatchNorm1d, LeakyReLU)* + Linear, plus DECA keys."""
    torch.manual_seed(seed)
    modules, width = [], 153
    for _ in range(layers):
        norm = torch.nn.BatchNorm1d(hidden)
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        modules += [torch.nn.Linear(width, hidden), norm, torch.nn.LeakyReLU(0.2)]
        width = hidden
    modules.append(torch.nn.Linear(width, outputs))
    reference = torch.nn.Sequential(*modules).eval()
    state = {f"mlp.model.{key}": value for key, value in reference.state_dict().items()}
    state["deca.E_flame.encoder.conv1.weight"] = torch.randn(4, 3, 3, 3)
    return state, reference


def test_convert_emoca_checkpoint_matches_the_original_mlp(tmp_path):
    state, reference = fake_emoca_state_dict()
    path = tmp_path / "emodeca.ckpt"
    torch.save({"state_dict": state, "epoch": 3}, path)
    model = convert_emoca_checkpoint(str(path))
    assert (
        model.config.hidden_size == 24
        and model.config.num_hidden_layers == 4
        and model.config.num_classes == 8
    )
    shape, expression, jaw = torch.randn(6, 100), torch.randn(6, 50), torch.randn(6, 3)
    expected = reference(torch.cat([shape, expression, jaw], dim=1))
    out = model(shape=shape, expression=expression, jaw_pose=jaw)
    torch.testing.assert_close(out.logits, expected[:, :8])
    torch.testing.assert_close(out.valence, expected[:, 8])
    torch.testing.assert_close(out.arousal, expected[:, 9])


def test_convert_emoca_rejects_what_it_cannot_read(tmp_path):
    state, _ = fake_emoca_state_dict()
    with pytest.raises(ValueError, match="num_classes"):
        convert_emoca_state_dict(state, num_classes=9)
    wide = {key: value for key, value in state.items()}
    wide["mlp.model.0.weight"] = torch.randn(24, 156)  # trained with the global pose as input
    with pytest.raises(ValueError, match="156 inputs"):
        convert_emoca_state_dict(wide)
    with pytest.raises(ValueError, match="mlp.model"):
        convert_emoca_state_dict({"deca.x": torch.zeros(1)})
    pickled = tmp_path / "objects.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"cfg": np.random.default_rng(0)}}, pickled)
    with pytest.raises(ValueError, match="weights_only"):
        convert_emoca_checkpoint(str(pickled))
    with pytest.raises(ValueError, match="no EMOCA checkpoint"):
        convert_emoca_checkpoint(str(tmp_path / "missing.ckpt"))


def test_group_rule_is_mean_probability_then_argmax():
    # group 0: three mildly "Happy" frames and one certain "Sad" frame: a per-frame majority vote says
    # Happy, the mean of probabilities (Happy 0.375, Sad 0.55) says Sad
    probabilities = np.array(
        [
            [0.0, 0.0, 1.0, 0, 0, 0, 0, 0],
            [0.1, 0.5, 0.4, 0, 0, 0, 0, 0],
            [0.1, 0.5, 0.4, 0, 0, 0, 0, 0],
            [0.1, 0.5, 0.4, 0, 0, 0, 0, 0],
            [1.0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 1.0],
            [0, 0, 0, 0, 0, 0, 0, 1.0],
        ]
    )
    assert group_emotion_ids(probabilities, group_size=4) == [2, 7]
    assert group_emotion_ids(probabilities[:4], group_size=4, num_groups=1) == [2]
    for num_groups in (1, 3):  # 7 frames make exactly 2 groups of 4
        with pytest.raises(ValueError, match="do not make"):
            group_emotion_ids(probabilities, group_size=4, num_groups=num_groups)


def test_saved_recognizer_loads_as_remote_code_without_mmlistener(tmp_path, run_python):
    model = tiny_recognizer()
    model.save_pretrained(tmp_path / "emotion")
    inputs = {"shape": torch.randn(3, 100), "expression": torch.randn(3, 50), "jaw_pose": torch.randn(3, 3)}
    torch.save({**inputs, "expected": model(**inputs).logits}, tmp_path / "io.pt")
    auto_map = json.loads((tmp_path / "emotion" / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModel"] == "modeling_emotion.EmotionRecognizer"
    result = run_python(
        """
        import sys

        class NoMmlistener:  # the package is installed in this venv: make sure the child cannot import it
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "mmlistener":
                    raise ImportError("mmlistener is blocked in this process")

        sys.meta_path.insert(0, NoMmlistener())
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained("emotion", trust_remote_code=True).eval()
        data = torch.load("io.pt", weights_only=True)
        logits = model(shape=data["shape"], expression=data["expression"], jaw_pose=data["jaw_pose"]).logits
        torch.testing.assert_close(logits, data["expected"])
        assert "mmlistener" not in sys.modules
        print(type(model).__module__)
        """,
        cwd=tmp_path,
    )
    assert result.stdout.strip().endswith("modeling_emotion")
