"""`make demo` on a smaller budget: every step runs, every output is there, and the model beats the baselines."""

import json

from huggingface_hub import ModelCard

from mmlistener.demo import MUST_BEAT, SYSTEM_NAME, beats_baselines


def test_beats_baselines_compares_lower_is_better():
    results = {"ours": {"l2": 1.0, "fd": 5.0}, "random": {"l2": 2.0, "fd": 4.0}}
    assert beats_baselines(results, baselines=("random",)) == {("random", "l2"): True, ("random", "fd"): False}


def test_small_demo_beats_random_and_nearest_neighbours_on_l2_and_fd(small_demo):
    args, results, out = small_demo
    saved = json.loads((out / "results.json").read_text())
    assert set(saved) == {"GT", SYSTEM_NAME, *args.systems}
    assert saved[SYSTEM_NAME]["l2"] == results[SYSTEM_NAME]["l2"]
    assert "| ours |" in (out / "results.md").read_text()
    listening = json.loads((out / "listening.json").read_text())
    assert listening["control"]["true"]["num_codes"] == listening["control"]["shuffled"]["num_codes"] > 0
    assert set(listening["code_baselines"]) == {"majority", "copy_previous", "bigram"}
    assert "| model, shuffled speaker |" in (out / "listening.md").read_text()
    assert (out / "plots" / f"{SYSTEM_NAME}.png").stat().st_size > 0
    for model in ("vqvae", "lm_stage1", "lm_stage2"):
        assert (out / model / "model.safetensors").is_file(), model
        assert (out / model / "README.md").is_file(), model
    card = ModelCard.load(out / "lm_stage2" / "README.md")
    assert {entry.metric_type for entry in card.data.eval_results} >= {"l2", "fd"}
    import av

    with av.open(str(out / "videos" / "test_window_0.mp4")) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height) == (3 * 256, 256)  # speaker | ground truth | ours
    assert frames == args.window_frames
    verdict = beats_baselines(results)
    assert {baseline for baseline, _ in verdict} == set(MUST_BEAT) & set(args.systems)
    lost = {key: (results[SYSTEM_NAME][key[1]], results[key[0]][key[1]]) for key, won in verdict.items() if not won}
    assert not lost, f"(ours, baseline) values where ours is not lower: {lost}"


def test_the_demo_reports_whether_its_lm_reads_the_joke_words(small_demo):
    from datasets import load_from_disk

    from mmlistener.evaluation import as_examples, joke_word_control
    from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
    from mmlistener.runs import load_pipeline

    _, _, out = small_demo
    reported = json.loads((out / "listening.json").read_text())["joke_words"]
    model, processor, _ = load_pipeline(out / "lm_stage2", IdentityVQVAE.from_pretrained(str(out / "vqvae")))
    control = joke_word_control(model, processor, as_examples(load_from_disk(str(out / "dataset_tokens"))["test"]))
    assert control["with_jokes"]["responses"]["laugh"]["num_codes"] > 0  # the small test split has jokes
    assert reported["with_jokes"] == control["with_jokes"] and reported["without_jokes"] == control["without_jokes"]
    assert reported["laugh_nll_gap"] == control["laugh_nll_gap"] != 0  # the tiny LM reads its words, a little
    assert f"(gap {control['laugh_nll_gap']:.3f} nats" in (out / "listening.md").read_text()
