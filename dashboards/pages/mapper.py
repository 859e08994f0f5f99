"""The mapper page (body: :mod:`dashboards.views.system` + :mod:`dashboards.views.mapper`)."""

from dashboards.views.system import render

render("mapper")
