"""The overview page (body: :mod:`dashboards.views.overview`)."""

from dashboards.views.overview import render

render()
