"""The precision page (body: :mod:`dashboards.views.system` + :mod:`dashboards.views.precision`)."""

from dashboards.views.system import render

render("precision")
