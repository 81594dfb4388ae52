"""🤗 `evaluate` module for listener motion: L2, FD, P-FD, Variation, Diversity (and the GT row).

Load it offline from the installed package:

    import evaluate
    from mmlistener.evaluation import listener_metrics_path

    metric = evaluate.load(listener_metrics_path())
    metric.compute(predictions=[pred], references=[gt], speaker_motion=[speaker], seed=0)

The numbers come from `mmlistener.evaluation.scoring`, so they equal `score_predictions`'s.
"""

import datasets
import evaluate
import numpy as np

from mmlistener.evaluation.scoring import score_ground_truth, score_predictions

_DESCRIPTION = """\
Listening-head motion metrics of "LLM-driven Multimodal and Multi-Identity Listening Head Generation"
(CVPR 2025), computed per window on de-normalised 3DMM motion (frames, 56) and averaged over windows:
L2 (MSE), FD (Frechet distance of per-window Gaussians), P-FD (FD of [speaker, listener]), Variation
(mean per-dim variance), Diversity (mean distance of seeded random frame pairs). `gt_variation` and
`gt_diversity` are the ground truth's own Variation and Diversity (the table's GT row).
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (`list` of `(frames, dims)` arrays): generated listener motion, one per window.
    references (`list` of `(frames, dims)` arrays): ground-truth listener motion, same shapes.
    speaker_motion (`list` of `(frames, speaker_dims)` arrays, *optional*): the speaker motion of each
        window; `p_fd` is reported only when given.
    seed (`int`, defaults to 0): Diversity of window i draws its frames with seed `seed + i`.
Returns:
    `dict` with `l2`, `fd`, `variation`, `diversity`, `gt_variation`, `gt_diversity` and, with
    `speaker_motion`, `p_fd`.
Example:
    >>> import numpy as np, evaluate
    >>> from mmlistener.evaluation import listener_metrics_path
    >>> metric = evaluate.load(listener_metrics_path())
    >>> gt = np.random.default_rng(0).standard_normal((64, 56))
    >>> metric.compute(predictions=[gt], references=[gt])["l2"]
    0.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ListenerMetrics(evaluate.Metric):
    def _info(self):
        window = datasets.List(datasets.List(datasets.Value("float32")))
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": window, "references": window}),
        )

    def _compute(self, predictions, references, speaker_motion=None, seed: int = 0):
        if speaker_motion is not None and len(speaker_motion) != len(references):
            raise ValueError(f"{len(speaker_motion)} speaker windows for {len(references)} references")
        examples = [{"listener_motion": reference} for reference in references]
        if speaker_motion is not None:
            for example, speaker in zip(examples, speaker_motion):
                example["speaker_motion"] = speaker
        predictions = [np.asarray(prediction, dtype=np.float32) for prediction in predictions]
        scores = score_predictions(predictions, examples, seed=seed, paired=speaker_motion is not None)
        ground_truth = score_ground_truth(examples, seed=seed)
        scores.update({f"gt_{name}": value for name, value in ground_truth.items()})
        return scores
