"""The nightly page (body: :mod:`dashboards.views.nightly`)."""

from dashboards.views.nightly import render

render()
