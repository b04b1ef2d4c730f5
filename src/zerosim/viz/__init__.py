"""zerosim.viz layer (see the modules' docstrings)."""
