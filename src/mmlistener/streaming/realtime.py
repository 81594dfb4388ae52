"""Feed a recording to a [`ListenerStream`] as a microphone would, and time each group's frames.

The latency of group `g` is the time from the moment its audio is complete (the recording's time
`(g + 1) * group_size / fps`, on the wall clock of a real-time feed) to the moment its frames come out of the
stream. It holds everything on the way: the chunking, the front ends' right context, the LM step, the
decoding, and any backlog when the stream falls behind real time.
"""

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class StreamTiming:
    """What a fed recording gave.

    Attributes:
        frames (`np.ndarray` of shape `(T, 56)`): the listener motion, as the stream handed it out.
        latencies_ms (`np.ndarray` of shape `(groups,)`): per group, frames out minus its audio complete (ms).
        group_ms (`float`): the duration of a group (the real-time budget per group).
        seconds (`float`): wall time of the whole feed.
    """

    frames: np.ndarray
    latencies_ms: np.ndarray
    group_ms: float
    seconds: float

    @property
    def late(self) -> int:
        """Groups whose frames came out more than a group's duration after their audio."""
        return int((self.latencies_ms > self.group_ms).sum())

    def summary(self) -> str:
        """One line: p50 / p95 / max latency and the late groups."""
        p50, p95 = np.percentile(self.latencies_ms, [50, 95])
        return (
            f"{len(self.latencies_ms)} groups: latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, max "
            f"{self.latencies_ms.max():.0f} ms; {self.late} late (over {self.group_ms:.1f} ms)"
        )


def feed(
    stream,
    audio: np.ndarray,
    sampling_rate: int,
    chunk_seconds: float = 0.02,
    real_time: bool = True,
    speaker_motion: np.ndarray | None = None,
) -> StreamTiming:
    """Push `audio` through `stream.push_audio` in chunks, then `finish()`; time every group.

    Args:
        stream ([`ListenerStream`]): a fresh turn.
        audio (`np.ndarray` of shape `(samples,)`): the speaker's recording.
        sampling_rate (`int`): its rate.
        chunk_seconds (`float`): audio per push (a microphone callback's size).
        real_time (`bool`): push each chunk no earlier than the moment it would exist live (the recording's time
            since the first push); `False` pushes as fast as the stream takes them, and a group's audio counts as
            complete when the chunk holding its end is pushed.
        speaker_motion (`np.ndarray` of shape `(frames, 56)`, *optional*): the speaker's frames, pushed with the
            audio (`push_speaker_frames`, the frames up to each chunk's end) when the stream derives emotion from
            them.

    Returns:
        [`StreamTiming`].
    """
    if chunk_seconds <= 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
    group_seconds = stream.processor.group_size / stream.processor.fps
    chunk = max(1, round(chunk_seconds * sampling_rate))
    duration = len(audio) / sampling_rate
    frames, latencies = [], []
    pushes = []  # (seconds of audio pushed so far, wall time of the push)
    emitted = 0  # frames handed out so far
    started = time.perf_counter()

    def ready(group_end: float) -> float:
        """Wall time at which the audio up to `group_end` seconds existed (live) or was pushed (fast)."""
        if real_time:
            return started + group_end
        return next(at for seconds, at in pushes if seconds >= group_end - 1e-9)

    def collect(new: np.ndarray) -> None:
        nonlocal emitted
        now = time.perf_counter()
        frames.append(new)
        emitted += len(new)
        while len(latencies) < -(-emitted // stream.processor.group_size):
            group_end = min((len(latencies) + 1) * group_seconds, duration)
            latencies.append(1000 * (now - ready(group_end)))

    fps, shown = stream.processor.fps, 0  # speaker frames pushed so far
    for first in range(0, len(audio), chunk):
        end = min(first + chunk, len(audio))
        if real_time:
            time.sleep(max(0.0, started + end / sampling_rate - time.perf_counter()))
        pushes.append((end / sampling_rate, time.perf_counter()))
        if speaker_motion is not None and end * fps // sampling_rate > shown:
            collect(stream.push_speaker_frames(speaker_motion[shown : end * fps // sampling_rate]))
            shown = end * fps // sampling_rate
        collect(stream.push_audio(audio[first:end], sampling_rate))
    collect(stream.finish())
    return StreamTiming(
        frames=np.concatenate(frames),
        latencies_ms=np.asarray(latencies),
        group_ms=1000 * group_seconds,
        seconds=time.perf_counter() - started,
    )


__all__ = ["StreamTiming", "feed"]
