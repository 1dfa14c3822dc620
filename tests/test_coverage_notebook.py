"""The coverage notebook runs headless, offline, end to end (its cells assert the
per-grid balance and the gain of the suggested sites)."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "coverage.ipynb"


@pytest.mark.slow
def test_coverage_notebook_runs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "coverage raised by" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the maps were drawn
