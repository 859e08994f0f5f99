"""The hag page (body: :mod:`dashboards.views.system` + :mod:`dashboards.views.hag`)."""

from dashboards.views.system import render

render("hag")
