"""Lasagne layers of the lab that Lasagne itself does not provide."""
from .repeat import RepeatLayer

__all__ = ['RepeatLayer']
