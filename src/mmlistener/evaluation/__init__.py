"""The paper's metrics, baselines and results table."""
