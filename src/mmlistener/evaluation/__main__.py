"""`python -m mmlistener.evaluation` (console script `mmlistener-evaluate`): the results table.

Example:

    python -m mmlistener.evaluation --dataset_dir data/trevor --split test \\
        --systems random,nn_motion,nn_speech,naive_random_walk,ours_random_walk,model:outputs/lm \\
        --vqvae outputs/vqvae --naive_vqvae outputs/vqvae_none --output_dir outputs/evaluation

Arguments also load from a JSON or YAML file: `python -m mmlistener.evaluation args.yaml`.
"""

import logging
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from .results import as_examples, evaluate_systems, format_results_table
from .systems import SYSTEM_NAMES, build_systems, load_split
from .vqvae_metrics import save_vqvae_results, score_vqvae

logger = logging.getLogger(__name__)


@dataclass
class EvaluationArguments:
    dataset_dir: str = field(
        metadata={"help": "A 🤗 DatasetDict saved with save_to_disk (mmlistener.data windows)."}
    )
    split: str = field(default="test", metadata={"help": "Split to generate for and score."})
    train_split: str = field(default="train", metadata={"help": "Split the retrieval baselines search."})
    systems: str = field(
        default="random,nn_motion,nn_speech",
        metadata={
            "help": f"Comma-separated rows: {', '.join(SYSTEM_NAMES)}, or model:<dir> (LM + processor dir)."
        },
    )
    output_dir: str = field(
        default="outputs/evaluation", metadata={"help": "Where results.{md,json} and plots go."}
    )
    vqvae: str | None = field(
        default=None,
        metadata={"help": "Identity (instance/AdaIN) VQ-VAE: ours_random_walk and model:<dir> rows."},
    )
    naive_vqvae: str | None = field(
        default=None, metadata={"help": "none/none VQ-VAE: naive_random_walk row."}
    )
    emotion_recognizer: str | None = field(
        default=None, metadata={"help": "EmotionRecognizer dir; enables L2 Affect (left out without it)."}
    )
    sentence_model: str = field(
        default="sentence-transformers/all-MiniLM-L6-v2",
        metadata={"help": "sentence-transformers model (Hub id or local dir) of the nn_speech row."},
    )
    walk_neighbors: int = field(
        default=8, metadata={"help": "Neighbourhood size of the codebook random walks."}
    )
    batch_size: int = field(default=8, metadata={"help": "Windows per generate call of model rows."})
    seed: int = field(default=0, metadata={"help": "Seed of the random baselines and of Diversity."})
    max_windows: int | None = field(
        default=None, metadata={"help": "Score only the first N windows of the split."}
    )
    num_plot_windows: int = field(
        default=3, metadata={"help": "Windows drawn in each system's PNG (0: no plots)."}
    )
    vqvae_table: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated VQ-VAE dirs to score on the split (Table 5: reconstruction, commit, perplexity)."
        },
    )


def run(args: EvaluationArguments) -> dict:
    """Build the systems, evaluate them on the split, print and save the table(s); return the results."""
    test = load_split(args.dataset_dir, args.split)
    if args.max_windows is not None:
        test = test.select(range(min(args.max_windows, len(test))))
    test_examples = as_examples(test)
    systems = build_systems(
        args.systems.split(","),
        train_examples=lambda: as_examples(load_split(args.dataset_dir, args.train_split)),
        vqvae=args.vqvae,
        naive_vqvae=args.naive_vqvae,
        sentence_model=args.sentence_model,
        walk_neighbors=args.walk_neighbors,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    valence = None
    if args.emotion_recognizer is not None:
        from .. import EmotionRecognizer

        valence = EmotionRecognizer.from_pretrained(args.emotion_recognizer)
    else:
        logger.info("no --emotion_recognizer: L2 Affect is left out")
    results = evaluate_systems(
        systems,
        test_examples,
        valence=valence,
        seed=args.seed,
        output_dir=args.output_dir,
        num_plot_windows=args.num_plot_windows,
    )
    print(format_results_table(results))
    if args.vqvae_table:
        from .. import IdentityVQVAE

        rows = {
            path: score_vqvae(IdentityVQVAE.from_pretrained(path), test_examples, batch_size=args.batch_size)
            for path in args.vqvae_table.split(",")
        }
        print(save_vqvae_results(rows, args.output_dir))
    print(f"saved to {args.output_dir}")
    return results


def parse_and_run(argv: list[str] | None = None) -> dict:
    """Score the systems from command-line style `argv` (default `sys.argv[1:]`); return the results."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = HfArgumentParser(EvaluationArguments)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        (args,) = parser.parse_json_file(argv[0])
    elif len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        (args,) = parser.parse_yaml_file(argv[0])
    else:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    return run(args)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-evaluate`): returns nothing, so a successful run exits 0."""
    parse_and_run(argv)


if __name__ == "__main__":
    main()
