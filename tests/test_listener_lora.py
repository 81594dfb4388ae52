"""The LLaMA route: LoRA adapters on the backbone, new embedding rows and the listener head trained in full."""

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from test_listener_model import TOKEN_COUNTS, make_batch
from transformers import LlamaConfig

from mmlistener import ListenerConfig, ListenerForCausalLM

SAMPLES = [{"history": 3, "words": [2, 0, 1]}, {"history": 0, "words": [1, 2, 0]}]


def tiny_llama_listener() -> ListenerForCausalLM:
    backbone = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=100,
        max_position_embeddings=128,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(0)
    return ListenerForCausalLM(ListenerConfig(backbone_config=backbone, **TOKEN_COUNTS))


def test_lora_training_saves_and_reloads_to_identical_logits(tmp_path):
    model = tiny_llama_listener()
    model.save_pretrained(tmp_path / "base")
    layout = model.config.layout
    embeddings_before = model.get_input_embeddings().weight.detach().clone()
    query_before = model.backbone.model.layers[0].self_attn.q_proj.weight.detach().clone()

    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        modules_to_save=["embed_tokens", "lm_head", "listener_head"],
    )
    peft_model = get_peft_model(model, config)
    trainable = {name for name, param in peft_model.named_parameters() if param.requires_grad}
    assert any("lora_A" in name for name in trainable) and any("listener_head" in name for name in trainable)
    assert not any(name.endswith("q_proj.base_layer.weight") for name in trainable)

    stage_two = make_batch(layout, SAMPLES, seed=1, codes=[[1, 2, 3], [4, 5, 6]])
    stage_one = make_batch(layout, SAMPLES, seed=2, stage="speaker")
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for step in range(6):
        batch = stage_two if step % 2 else stage_one
        loss = peft_model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[1]  # the listener loss went down
    peft_model.save_pretrained(tmp_path / "adapter")

    peft_model.eval()
    probe = make_batch(layout, SAMPLES, seed=3)
    with torch.no_grad():
        trained = peft_model(**probe)
    codes = peft_model.generate(**probe)
    # the frozen base weights did not move; the fully trained copy of the embeddings did, new rows included
    assert torch.equal(peft_model.base_model.model.backbone.model.layers[0].self_attn.q_proj.base_layer.weight, query_before)
    trained_rows = peft_model.get_input_embeddings().weight
    assert not torch.equal(trained_rows[layout.listener_offset :], embeddings_before[layout.listener_offset :])

    reloaded = PeftModel.from_pretrained(ListenerForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter")
    reloaded.eval()
    with torch.no_grad():
        again = reloaded(**probe)
    torch.testing.assert_close(again.listener_logits, trained.listener_logits, rtol=0, atol=0)
    torch.testing.assert_close(again.logits, trained.logits, rtol=0, atol=0)
    assert torch.equal(reloaded.generate(**probe), codes)

    merged = reloaded.merge_and_unload()
    assert type(merged) is ListenerForCausalLM
    torch.testing.assert_close(merged(**probe).listener_logits, trained.listener_logits, rtol=1e-5, atol=1e-5)
