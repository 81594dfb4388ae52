"""The paper's metrics, baselines and results table.

- `metrics`: one function per metric on one window (`l2`, `frechet_distance`, ...), plain numpy/scipy.
- `scoring`: averages them over a split (`score_predictions`, `score_ground_truth`).
- `baselines`, `random_walk`: the paper's baselines, with `ListenerPipeline`'s `fit` / `predict` interface.
- `diagnostics`: does the LM use the speaker? Code-only baselines and a shuffled-speaker control.
- `code_diagnostics`: do the VQ-VAE's codes depend on later frames, or on the identity?
- `events`: nods after utterances, laughs after jokes, emotion contagion, against the synthetic corpus's events.
- `seams`: `seam_ratio`, does long motion jump where its decoding windows meet?
- `results`: `evaluate_systems` (generate, score, save the Table 1 layout and plots).
- `vqvae_metrics`: the VQ-VAE table (reconstruction, commitment, perplexity).
- `listener_metrics_path()`: the `evaluate` module, for `evaluate.load(listener_metrics_path())`.
"""

from .baselines import (
    ListenerSystem,
    NearestMotionBaseline,
    NearestSpeechBaseline,
    RandomBaseline,
    fit_length,
    sentence_transformer_embedder,
    window_text,
)
from .code_diagnostics import identity_code_agreement, prefix_code_agreement
from .diagnostics import (
    code_baselines,
    format_listening_table,
    joke_word_control,
    shuffled_speakers,
    speaker_shuffle_control,
    teacher_forced_scores,
)
from .events import (
    detect_laughs,
    detect_nods,
    detect_oscillations,
    emotion_contagion,
    event_rates,
    false_laugh_sites,
    format_events_table,
)
from .hub_metric import listener_metrics_path
from .metrics import (
    diversity,
    frechet_distance,
    frechet_distance_from_statistics,
    gaussian_statistics,
    l2,
    l2_affect,
    paired_frechet_distance,
    variation,
    window_means,
)
from .oracle import OracleBaseline
from .plots import plot_motion_comparison
from .random_walk import RandomWalkBaseline, codebook_neighbors, random_walk
from .results import as_examples, evaluate_systems, format_results_table, save_results
from .scoring import (
    RecognizerValence,
    ValenceFn,
    as_motion,
    as_valence_fn,
    ground_truth_valence,
    score_ground_truth,
    score_predictions,
)
from .seams import frame_changes, seam_ratio
from .systems import SYSTEM_NAMES, build_systems, load_split
from .vqvae_metrics import code_perplexity, save_vqvae_results, score_vqvae, vqvae_table

__all__ = [
    "SYSTEM_NAMES",
    "ListenerSystem",
    "NearestMotionBaseline",
    "NearestSpeechBaseline",
    "OracleBaseline",
    "RandomBaseline",
    "RandomWalkBaseline",
    "RecognizerValence",
    "ValenceFn",
    "as_examples",
    "as_motion",
    "as_valence_fn",
    "build_systems",
    "code_baselines",
    "code_perplexity",
    "codebook_neighbors",
    "detect_laughs",
    "detect_nods",
    "detect_oscillations",
    "diversity",
    "emotion_contagion",
    "evaluate_systems",
    "event_rates",
    "false_laugh_sites",
    "format_events_table",
    "fit_length",
    "format_listening_table",
    "format_results_table",
    "frame_changes",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "gaussian_statistics",
    "ground_truth_valence",
    "identity_code_agreement",
    "joke_word_control",
    "l2",
    "l2_affect",
    "listener_metrics_path",
    "load_split",
    "paired_frechet_distance",
    "plot_motion_comparison",
    "prefix_code_agreement",
    "random_walk",
    "save_results",
    "save_vqvae_results",
    "score_ground_truth",
    "score_predictions",
    "score_vqvae",
    "seam_ratio",
    "sentence_transformer_embedder",
    "shuffled_speakers",
    "speaker_shuffle_control",
    "teacher_forced_scores",
    "variation",
    "vqvae_table",
    "window_means",
    "window_text",
]
