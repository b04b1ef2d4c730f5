"""Population layer: shared random draws (used by every layer above).

Layer ``population`` -- imports numpy only.
"""

from __future__ import annotations

import numpy as np


def lognormal(rng: np.random.Generator, mean: float, sd: float, size: int) -> np.ndarray:
    """``size`` draws (float64) from a log-normal with this mean and standard deviation.

    ``sd == 0`` gives the mean exactly; ``mean <= 0`` gives zeros.
    """
    if mean <= 0:
        return np.zeros(size)
    if sd <= 0:
        return np.full(size, float(mean))
    variance = np.log1p((sd / mean) ** 2)
    return rng.lognormal(np.log(mean) - variance / 2, np.sqrt(variance), size)
