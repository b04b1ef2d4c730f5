"""zerosim.ledger layer (see the modules' docstrings)."""
