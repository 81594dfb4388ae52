"""Dataset builders and the synthetic dyadic corpus."""
