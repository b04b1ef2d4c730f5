"""zerosim.cli layer (see the modules' docstrings)."""
