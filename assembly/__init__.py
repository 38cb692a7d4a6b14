"""Composition: the code that wires the services together (the local topology runner)."""
