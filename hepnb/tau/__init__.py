"""Tau study at FCC-ee: Pythia 8 generation, CLD-like detector, ee-genkt jets and tau labels (:mod:`.generate`),
jet files and splits (:mod:`.dataset`), Particle Transformer, MultiParTau, SingleParTau and Deep Sets
(:mod:`.models`), task losses (:mod:`.losses`), PCGrad (:mod:`.pcgrad`), metrics and baselines
(:mod:`.metrics`), training and evaluation (:mod:`.study`)."""

from __future__ import annotations

from hepnb.tau.generate import decay_mode_class as decay_mode_class
from hepnb.tau.generate import generate_jets as generate_jets
from hepnb.tau.generate import tau_decay_modes as tau_decay_modes
from hepnb.tau.dataset import read_jets as read_jets
from hepnb.tau.dataset import simulate as simulate
from hepnb.tau.dataset import write_jets as write_jets
from hepnb.tau.models import MODEL_CARD as MODEL_CARD
from hepnb.tau.models import MultiParTau as MultiParTau
from hepnb.tau.models import ParTConfig as ParTConfig
from hepnb.tau.models import SingleParTau as SingleParTau
from hepnb.tau.pcgrad import PCGrad as PCGrad
from hepnb.tau.tensors import to_tensors as to_tensors

__all__ = ["MODEL_CARD", "MultiParTau", "PCGrad", "ParTConfig", "SingleParTau", "decay_mode_class", "generate_jets",
           "read_jets", "simulate", "tau_decay_modes", "to_tensors", "write_jets"]
