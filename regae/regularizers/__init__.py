"""Pluggable penalties on (model, x, h), registered by name."""

from regae.regularizers.auxk import AuxK
from regae.regularizers.base import Regularizer
from regae.regularizers.contractive import (
    Contractive,
    frobenius_exact,
    frobenius_exact_from_graph,
    frobenius_hutchinson,
    frobenius_per_sample,
    frobenius_sigmoid_layer,
)
from regae.regularizers.decoder_l1 import DecoderNormL1, decoder_norm_l1
from regae.regularizers.registry import REGULARIZERS, build_regularizer, build_regularizers
from regae.regularizers.sparsity import KLSparsity, L1Sparsity, WeightDecay, kl_sparsity, l1_activity

__all__ = [
    "AuxK", "Contractive", "DecoderNormL1", "KLSparsity", "L1Sparsity", "REGULARIZERS", "Regularizer", "WeightDecay",
    "build_regularizer", "build_regularizers", "decoder_norm_l1", "frobenius_exact", "frobenius_exact_from_graph", "frobenius_hutchinson",
    "frobenius_per_sample", "frobenius_sigmoid_layer", "kl_sparsity", "l1_activity",
]
