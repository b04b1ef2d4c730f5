"""zerosim.policy layer (see the modules' docstrings)."""
