"""The catalogue of served layers, derived from the table registry
(:mod:`gis.store.registry`): which table, which id and geometry columns, which properties
(and from which zoom the vector tiles carry them), whether the layer is live (short
cache) or static (long cache), and how the caller's scope filters it.

Everything here is trusted SQL written by us; user input never reaches these strings,
it is bound as parameters by :mod:`gis.store.layer_features` and the tile queries."""

from __future__ import annotations

from gis.store.registry import SERVED as LAYERS
from gis.store.registry import WATCHED_TABLES, Layer, Prop
from gis.store.registry import served_layer as get_layer

__all__ = ["LAYERS", "WATCHED_TABLES", "Layer", "Prop", "get_layer"]
