"""Demo district generator: a realistic synthetic county-like district, deterministic
per seed, from 5,000 to 2,000,000 households (``gridgis generate``)."""

from gis.generate.district import District, generate_district
from gis.generate.output import write_district

__all__ = ["District", "generate_district", "write_district"]
