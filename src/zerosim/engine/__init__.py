"""zerosim.engine layer (see the modules' docstrings)."""
