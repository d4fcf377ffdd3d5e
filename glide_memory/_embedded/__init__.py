"""Embedded servers: a private valkey-server (or a cluster of them) for demos, notebooks and tests."""

from glide_memory._embedded._cluster import EmbeddedCluster
from glide_memory._embedded._server import EmbeddedServer

__all__ = ["EmbeddedCluster", "EmbeddedServer"]
