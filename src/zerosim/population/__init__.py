"""zerosim.population layer (see the modules' docstrings)."""
