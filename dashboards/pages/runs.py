"""The run browser page (body: :mod:`dashboards.views.runs`)."""

from dashboards.views.runs import render

render()
