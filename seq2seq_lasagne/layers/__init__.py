"""Lasagne layers of the lab that Lasagne itself does not provide."""

from .attention import LSTMAttentionDecodeFeedbackLayer
from .repeat import RepeatLayer

__all__ = ['LSTMAttentionDecodeFeedbackLayer', 'RepeatLayer']
