"""zerosim.behaviour layer (see the modules' docstrings)."""
