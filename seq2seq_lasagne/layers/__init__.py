"""Lasagne layers of the lab that Lasagne itself does not provide."""

from .attention import LSTMAttentionDecodeFeedbackLayer
from .gru import FusedGRULayer
from .repeat import RepeatLayer

__all__ = ['FusedGRULayer', 'LSTMAttentionDecodeFeedbackLayer', 'RepeatLayer']
