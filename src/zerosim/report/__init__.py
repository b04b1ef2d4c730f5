"""Report layer: one self-contained HTML page from finished run directories (``zerosim report``).

Layer ``report`` -- sits on top of ``io`` and ``viz`` like ``cli`` does; reads run directories, never
a live simulation. See :mod:`zerosim.report.html`.
"""

from __future__ import annotations

from zerosim.report.html import write_report

__all__ = ["write_report"]
