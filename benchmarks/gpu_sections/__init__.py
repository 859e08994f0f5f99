"""GPU sections of ``benchmarks.gpu``: one module per system (``TITLE``, ``BUDGET_S``, ``run(ctx)``).

Import only the standard library, numpy, torch (triton lazily, with a fallback) and ``systems.*`` here:
the GPU machine has no Ray, Prefect or MLflow. ``ctx`` is :class:`benchmarks.gpu.Context`.
"""
