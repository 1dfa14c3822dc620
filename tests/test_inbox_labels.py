"""Every kind of notice the database accepts has a label in the pages' inbox."""
import re
from pathlib import Path

from gis.store.models import NOTIFICATION_KINDS

COMMON_JS = Path(__file__).resolve().parents[1] / "api" / "static" / "gridgis_common.js"


def test_every_notification_kind_has_an_inbox_label():
    block = re.search(r"KIND_LABELS = \{(.*?)\};", COMMON_JS.read_text(), re.S).group(1)
    labelled = set(re.findall(r"(\w+):\s*\"", block))
    assert set(NOTIFICATION_KINDS) - labelled == set()
