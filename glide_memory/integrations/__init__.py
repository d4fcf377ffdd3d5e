"""Integrations with agent frameworks, each imported explicitly and each needing its extra.

``glide_memory.integrations.strands`` (``pip install 'glide-memory[strands]'``)
persists Strands Agents sessions. Integrations use the core's public API
and its companion keys only; the core names none of them.
"""
