"""Tau study at FCC-ee: Pythia 8 generation, CLD-like detector, ee-genkt jets, tau labels (work in progress:
the Particle Transformer models and the notebook are not written yet)."""

from __future__ import annotations

from hepnb.tau.generate import decay_mode_class as decay_mode_class
from hepnb.tau.generate import generate_jets as generate_jets
from hepnb.tau.generate import tau_decay_modes as tau_decay_modes
from hepnb.tau.tensors import to_tensors as to_tensors

__all__ = ["decay_mode_class", "generate_jets", "tau_decay_modes", "to_tensors"]
