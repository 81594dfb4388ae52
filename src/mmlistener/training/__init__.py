"""accelerate training entry points."""
