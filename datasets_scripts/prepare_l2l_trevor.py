"""Prepare L2L-trevor (LM-Listener's release or the original Learning2Listen arrays) as a 🤗 dataset.

    python datasets_scripts/prepare_l2l_trevor.py --data_dir trevor --output_dir data/trevor \
        --media_dir trevor_videos_root --acoustic_codec_config st/config.json \
        --acoustic_codec_checkpoint st/SpeechTokenizer.pt --emotion_checkpoint emoca_emotion --num_proc 2

Windows the release (from frame 96, stride 240, >= 24 frames), adds acoustic codes from the source audio or
video found under --media_dir by each segment's `fname`, emotion ids from the speaker's motion, optionally
re-transcribes the words (--transcribe), then saves the DatasetDict (+ Parquet with --parquet), mean/std and a
dataset card; --push_to_hub uploads it. Arguments also load from a JSON or YAML file given alone.
"""

from dataclasses import asdict, dataclass, field

from mmlistener.arguments import parse_arguments
from mmlistener.data import L2LTrevor
from mmlistener.data.preparation import PreparationArguments, prepare_dataset


@dataclass
class L2LTrevorArguments:
    config_name: str = field(
        default="lm_listener", metadata={"help": "lm_listener (.pth segments) or l2l_original (.npy arrays)."}
    )
    first_frame: int = field(default=96, metadata={"help": "First window's start frame in each segment."})
    stride: int = field(default=240, metadata={"help": "Frames between window starts."})
    window_frames: int = field(default=240, metadata={"help": "Longest window, in frames."})
    min_frames: int = field(default=24, metadata={"help": "Shorter tail windows are dropped."})
    history_seconds: float = field(default=3.0, metadata={"help": "How far back history words reach."})
    listener_id: str = field(default="trevor", metadata={"help": "Listener of segments without listener_id."})
    listener_prefix: str = field(default="p0", metadata={"help": "l2l_original: the listener's file prefix."})
    speaker_prefix: str = field(default="p1", metadata={"help": "l2l_original: the speaker's file prefix."})
    synthetic: bool = field(
        default=False,
        metadata={"help": "The data is mmlistener's synthetic corpus (sets the card's source)."},
    )


def main(argv=None):
    preparation, l2l = parse_arguments((PreparationArguments, L2LTrevorArguments), argv)
    settings = asdict(l2l)
    config_name = settings.pop("config_name")
    dataset_name = "synthetic" if settings.pop("synthetic") else "l2l_trevor"
    return prepare_dataset(L2LTrevor, preparation, dataset_name, config_name, **settings)


if __name__ == "__main__":
    main()
