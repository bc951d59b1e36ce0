"""Surrogate models of the loss and what searchers do with them (numpy/scipy; no Ray).

* :mod:`~raysearch.surrogates.gp`: an exact Gaussian process (Matern-5/2 ARD, MAP
  hyperparameters, output warping) and LogEI.
* :mod:`~raysearch.surrogates.acquisition`: maximising the GP's acquisition over a mixed,
  conditional search space (candidates, gradient search, local search).
* :mod:`~raysearch.surrogates.parzen`: the Parzen (kernel density) estimators of TPE.
* :mod:`~raysearch.surrogates.fidelity`: the fidelity as a GP input (every rung of every
  learning curve as training rows; the GP seen at the top fidelity).
"""

from __future__ import annotations

from raysearch.surrogates.acquisition import Domain, Problem, maximise
from raysearch.surrogates.gp import GaussianProcess, fit_theta, log_ei, warp_outputs
from raysearch.surrogates.parzen import ColumnSpec, ParzenEstimator, column_spec

__all__ = [
    "ColumnSpec",
    "Domain",
    "GaussianProcess",
    "ParzenEstimator",
    "Problem",
    "column_spec",
    "fit_theta",
    "log_ei",
    "maximise",
    "warp_outputs",
]
