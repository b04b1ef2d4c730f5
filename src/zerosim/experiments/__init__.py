"""Experiments layer: work made of many runs, above the API.

- :mod:`zerosim.experiments.ensemble` -- replicates and sweeps on ``dask.distributed`` (``zerosim ensemble``);
- :mod:`zerosim.experiments.calibrate` -- fitting a scenario to observed cases (ABC-SMC) and forecasting
  from the fit (``zerosim calibrate``, ``zerosim forecast``).
- :mod:`zerosim.experiments.attribution` -- Shapley values over containment parts switched off (``zerosim attribute``);
- :mod:`zerosim.experiments.frontier` -- multi-objective search over policy levers (``zerosim frontier``);
- :mod:`zerosim.experiments.tasks` -- the Dask client and task runner the two share.

Layer ``experiments`` -- imports ``api``, ``region``, ``io``, ``viz`` and the layers below; never
``cli`` or ``dashboard``. Nothing below it imports it (``tests/test_layers.py``; the table is in
docs/model.md#layers).
"""
