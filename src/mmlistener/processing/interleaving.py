"""The interleaved order of the tokens of one group, and of a clip's groups after its history (REFERENCE eq. 1).

One group `g` reads, for the streams present::

    words ending in g,  <sa> acoustic </sa>,  <sc> content </sc>,  <emo> emotion </emo>,  <lr> LR_g </lr>

Stage "speaker" (eq. 2) has no listener block and scores the word, code and emotion tokens; stage "listener" scores
the listener token when its code is given. Which streams a group holds is the caller's choice (the processor's
`modalities`); everything here works on token ids of a [`TokenLayout`].
"""

from dataclasses import dataclass

import numpy as np

from .token_layout import TokenLayout

# (stream, opening token, closing token) of the code blocks, in their order within a group
CODE_BLOCKS = (("acoustic", "<sa>", "</sa>"), ("content", "<sc>", "</sc>"))
STAGES = ("listener", "speaker")


@dataclass
class GroupTokens:
    """The tokens of one group.

    Args:
        ids (`np.ndarray` of shape `(n,)`, int64): token ids in the interleaved order.
        scored (`np.ndarray` of shape `(n,)`, bool): the tokens the stage's loss scores.
        slot (`int`, *optional*): index in `ids` of the listener token (right after `<lr>`); `None` for stage
            "speaker".
    """

    ids: np.ndarray
    scored: np.ndarray
    slot: int | None


def group_tokens(
    layout: TokenLayout,
    word_ids: list[int],
    codes: dict[str, np.ndarray],
    emotion_id: int | None,
    stage: str = "listener",
    listener_code: int | None = None,
) -> GroupTokens:
    """The tokens of one group.

    Args:
        layout ([`TokenLayout`]): where each block's ids start.
        word_ids (`list[int]`): text token ids of the words ending in the group.
        codes (`dict[str, np.ndarray]`): raw codes (not token ids) of the group per code stream present, among
            `"acoustic"` and `"content"`.
        emotion_id (`int`, *optional*): the group's raw emotion class; `None` when emotion is not a stream.
        stage (`str`): `"listener"` or `"speaker"`.
        listener_code (`int`, *optional*): the listener code filling the slot (scored); code 0, unscored, when
            absent. Stage "listener" only.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    score_speaker = stage == "speaker"
    pieces: list[tuple[list[int], bool]] = [(list(word_ids), score_speaker)]
    offsets = {"acoustic": layout.acoustic_offset, "content": layout.content_offset}
    for name, start, end in CODE_BLOCKS:
        if name in codes:
            block = (np.asarray(codes[name], dtype=np.int64) + offsets[name]).tolist()
            pieces += [([layout.token_id(start)], False), (block, score_speaker), ([layout.token_id(end)], False)]
    if emotion_id is not None:
        emotion = [layout.emotion_offset + int(emotion_id)]
        pieces += [([layout.token_id("<emo>")], False), (emotion, score_speaker), ([layout.token_id("</emo>")], False)]
    slot = None
    if stage == "listener":
        pieces.append(([layout.token_id("<lr>")], False))
        slot = sum(len(tokens) for tokens, _ in pieces)
        code = 0 if listener_code is None else int(listener_code)
        pieces += [([layout.listener_offset + code], listener_code is not None), ([layout.token_id("</lr>")], False)]
    ids = np.asarray([token for tokens, _ in pieces for token in tokens], dtype=np.int64)
    scored = np.concatenate([np.full(len(tokens), flag, dtype=bool) for tokens, flag in pieces])
    return GroupTokens(ids=ids, scored=scored, slot=slot)


def join_groups(history_ids: list[int], groups: list[GroupTokens], score_history: bool):
    """A clip's row: its history tokens, then its groups in order.

    Returns:
        `(ids, group ids, listener-slot flags, scored flags)`, numpy arrays `(length,)`; the history's group id is
        -1.
    """
    ids = [np.asarray(history_ids, dtype=np.int64)] + [group.ids for group in groups]
    group_ids = [np.full(len(history_ids), -1, dtype=np.int64)]
    group_ids += [np.full(len(group.ids), g, dtype=np.int64) for g, group in enumerate(groups)]
    slots = [np.zeros(len(history_ids), dtype=bool)]
    for group in groups:
        flags = np.zeros(len(group.ids), dtype=bool)
        if group.slot is not None:
            flags[group.slot] = True
        slots.append(flags)
    scored = [np.full(len(history_ids), score_history, dtype=bool)] + [group.scored for group in groups]
    return tuple(np.concatenate(parts) for parts in (ids, group_ids, slots, scored))


__all__ = ["CODE_BLOCKS", "GroupTokens", "STAGES", "group_tokens", "join_groups"]
