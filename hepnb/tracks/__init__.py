"""Track-extrapolation study (LHCb-style): dipole field, Runge–Kutta reference, learned extrapolators.

Modules: :mod:`~hepnb.tracks.constants` (units mm, GeV, tesla), :mod:`~hepnb.tracks.field` (the analytic
dipole ``field(x_mm, y_mm, z_mm) -> (Bx, By, Bz)`` in tesla and its grid map), :mod:`~hepnb.tracks.propagate`
(``rk4(states, z0_mm, z1_mm, n_steps)`` for states shaped (N, 5) = (x, y, tx, ty, q/p), and the cheap
baselines), :mod:`~hepnb.tracks.data` (samples with their float64 reference, track tables),
:mod:`~hepnb.tracks.models` (MLP and RK-PINN), :mod:`~hepnb.tracks.pipeline` (what the notebook calls),
:mod:`~hepnb.tracks.plots`, :mod:`~hepnb.tracks.export` (ONNX) and :mod:`~hepnb.tracks.cli`.
"""
