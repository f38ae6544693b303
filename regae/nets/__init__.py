"""Encoder/decoder architectures behind a name -> builder registry."""

from regae.nets.base import AENet, AEOutput
from regae.nets.registry import ARCHITECTURES, build_net

__all__ = ["ARCHITECTURES", "AENet", "AEOutput", "build_net"]
