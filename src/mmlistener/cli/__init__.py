"""Thin console entry points: parse flags, call the library, print a short summary, return nothing."""
