"""The layerwise page (body: :mod:`dashboards.views.system` + :mod:`dashboards.views.layerwise`)."""

from dashboards.views.system import render

render("layerwise")
