"""Prepare RealTalk, read through its manifest (see `mmlistener.data.realtalk`), as a 🤗 dataset.

    python datasets_scripts/prepare_realtalk.py --data_dir realtalk_manifest --output_dir data/realtalk \
        --media_dir realtalk_root --acoustic_codec_config st/config.json \
        --acoustic_codec_checkpoint st/SpeechTokenizer.pt --emotion_checkpoint emoca_emotion --num_proc 2

Resamples the 25 fps EMOCA parameters to 30 fps, cuts 240-frame windows, adds acoustic codes from each clip's
audio (manifest column `audio`, found under --media_dir) and emotion ids from the speaker's motion, then saves
the DatasetDict (+ Parquet with --parquet), mean/std and a dataset card; --push_to_hub uploads it.
"""

from dataclasses import asdict, dataclass, field

from mmlistener.arguments import parse_arguments
from mmlistener.data import RealTalk
from mmlistener.data.preparation import PreparationArguments, prepare_dataset


@dataclass
class RealTalkArguments:
    fps: int = field(
        default=30, metadata={"help": "Frame rate of the prepared windows (clips are resampled)."}
    )
    first_frame: int = field(default=0, metadata={"help": "First window's start frame in each clip."})
    stride: int = field(default=240, metadata={"help": "Frames between window starts."})
    window_frames: int = field(default=240, metadata={"help": "Longest window, in frames."})
    min_frames: int = field(default=24, metadata={"help": "Shorter tail windows are dropped."})
    history_seconds: float = field(default=3.0, metadata={"help": "How far back history words reach."})


def main(argv=None):
    preparation, realtalk = parse_arguments((PreparationArguments, RealTalkArguments), argv)
    return prepare_dataset(RealTalk, preparation, "realtalk", None, **asdict(realtalk))


if __name__ == "__main__":
    main()
