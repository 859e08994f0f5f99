"""The moe page (body: :mod:`dashboards.views.system` + :mod:`dashboards.views.moe`)."""

from dashboards.views.system import render

render("moe")
