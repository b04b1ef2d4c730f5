"""zerosim.transmission layer (see the modules' docstrings)."""
