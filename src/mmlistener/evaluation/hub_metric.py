"""Where the `evaluate` module of the listener metrics lives inside the installed package."""

from importlib import resources


def listener_metrics_path() -> str:
    """Path of `listener_metrics.py`, for `evaluate.load(listener_metrics_path())` (works offline).

    >>> listener_metrics_path().endswith("listener_metrics/listener_metrics.py")
    True
    """
    path = resources.files("mmlistener.evaluation") / "listener_metrics" / "listener_metrics.py"
    if not path.is_file():
        raise FileNotFoundError(f"the evaluate module is missing from the installed package: {path}")
    return str(path)


__all__ = ["listener_metrics_path"]
