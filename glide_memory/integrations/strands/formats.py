"""Strands Agents messages <-> stored messages.

Strands keeps Bedrock Converse's shape: see :mod:`glide_memory.formats.converse`.
"""

from glide_memory.formats.converse import ConverseSystem as StrandsSystem
from glide_memory.formats.converse import from_converse as from_strands
from glide_memory.formats.converse import to_converse as to_strands

__all__ = ["StrandsSystem", "from_strands", "to_strands"]
