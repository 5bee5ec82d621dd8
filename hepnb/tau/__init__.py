"""Tau study at FCC-ee: one Particle Transformer for four tasks (tau ID, charge, decay mode, kinematics).

Modules, from generation to results: :mod:`.events` (Pythia 8 e⁺e⁻ → Z → ττ / qq̄ and tau decay modes),
:mod:`.detector` (the CLD-like parametrised response), :mod:`.jets` (ee-genkt jets, tau matching, labels and
candidate features), :mod:`.data` (chunked simulation, jet files, network tensors, weights, split),
:mod:`.pairs` (pair features), :mod:`.models` (Particle Transformer, MultiParTau, SingleParTau, Deep Sets),
:mod:`.losses` (task losses), :mod:`.pcgrad` (gradient surgery), :mod:`.evaluate` (metrics and conventional
baselines), :mod:`.pipeline` (training and evaluation: what the notebook calls), :mod:`.plots`,
:mod:`.constants` and :mod:`.cli`.
"""
