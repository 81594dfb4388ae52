"""Turning speaker clips (words, audio, motion) into model inputs."""
