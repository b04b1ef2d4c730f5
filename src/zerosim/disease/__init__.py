"""zerosim.disease layer (see the modules' docstrings)."""
