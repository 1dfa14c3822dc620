"""Grid workers assessed by what they did: the 123456 method measured from tracks,
visits and reports (pure: no database, no settings).

:func:`assess` is the whole month; :mod:`.norms` the configurable norms and the star
weighting; :mod:`.month` days, weeks and the roster; :mod:`.attend` 3必到 proved from the
track; :mod:`.visits` visits matched to buildings and key households; :mod:`.fixes` the
fixes through :mod:`gis.patrol`'s cleaning and join.
"""

from gis.assessment.assess import CASE_COLUMNS, COLUMNS, Assessment, assess
from gis.assessment.month import Month
from gis.assessment.norms import Norms, stars

__all__ = ["CASE_COLUMNS", "COLUMNS", "Assessment", "Month", "Norms", "assess", "stars"]
