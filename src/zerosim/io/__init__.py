"""zerosim.io layer (see the modules' docstrings)."""
