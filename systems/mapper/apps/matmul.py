"""The six DISTAL (TACO-Legion) matrix-multiplication algorithms as task graphs: C = A x B.

Every algorithm has the DISTAL task names: ``init_cublas`` (one point per GPU), ``taco_fill`` (fills A
and B), ``task_1``/``task_2``/``task_3`` (place the C, A, B tiles where the mapper puts them),
``task_5`` (the per-step compute launch; an inner task) whose points each launch the leaf GEMM
``task_4`` (cuBLAS / BLAS), ``taco_validate`` and ``task_7`` (untimed host-side check of C).
Initialisation and placement form an untimed prologue followed by a fence, as DISTAL's timer does.
"""

from __future__ import annotations

from systems.mapper.apps.base import R, RED, RW, W, App, AppBuilder
from systems.mapper.machine import Machine

ALL3 = ("GPU", "OMP", "CPU")
GEMM_EFF = {"GPU": 0.85, "OMP": 0.7, "CPU": 0.8}


def _square_grid(G: int) -> int:
    g = 1
    while (g * g) % G:
        g += 1
    return g


def _cube_grid(G: int) -> int:
    g = 1
    while (g ** 3) % G and g < 64:
        g += 1
    return g


def _common(b: AppBuilder, n: int, tiles_a: tuple[int, int], tiles_b: tuple[int, int], tiles_c: tuple[int, int], G: int,
            red: bool):
    b.region("A", n * n * 8, tiles_a[0] * tiles_a[1], dims=2, desc=f"left operand, {tiles_a[0]}x{tiles_a[1]} tiles of doubles.")
    b.region("B", n * n * 8, tiles_b[0] * tiles_b[1], dims=2, desc=f"right operand, {tiles_b[0]}x{tiles_b[1]} tiles.")
    b.region("C", n * n * 8, tiles_c[0] * tiles_c[1], dims=2, desc=f"result, {tiles_c[0]}x{tiles_c[1]} tiles"
             + (" (accumulated by reductions from several layers)." if red else "."))
    t = {}
    t["init_cublas"] = b.task("init_cublas", ("GPU",), True, (G,), [], desc="creates a cuBLAS handle on every GPU (untimed).")
    t["fill"] = b.task("taco_fill", ALL3, True, tiles_a, ["tensor"], desc="fills a tile of A or B (untimed).")
    t["task_1"] = b.task("task_1", ALL3, True, tiles_c, ["C"], desc="places (zero-fills) a tile of C (untimed).")
    t["task_2"] = b.task("task_2", ALL3, True, tiles_a, ["A"], desc="places a tile of A (untimed).")
    t["task_3"] = b.task("task_3", ALL3, True, tiles_b, ["B"], desc="places a tile of B (untimed).")
    t["task_4"] = b.task("task_4", ALL3, False, None, ["A", "B", "C"], library=True, efficiency=dict(GEMM_EFF),
                         desc="leaf GEMM on one tile triple (cuBLAS dgemm on GPU, BLAS on CPU/OMP); launched by a task_5 point.")
    t["validate"] = b.task("taco_validate", ALL3, True, tiles_c, ["C"], desc="checks a tile of C (untimed).")
    t["task_7"] = b.task("task_7", ("OMP", "CPU"), True, tiles_c, ["C"], desc="host-side copy-out of a tile of C (untimed).")
    for g in range(G):
        b.launch(t["init_cublas"], (g,), (G,), [], flops=0, phase=0)
    ta, tb, tc = tiles_a, tiles_b, tiles_c
    for (name, grid, reg) in (("A", ta, "A"), ("B", tb, "B")):
        for i in range(grid[0]):
            for j in range(grid[1]):
                t["fill"].launch_shape = grid
                b.launch(t["fill"], (i, j), grid, [b.req(t["fill"], "tensor", reg, i * grid[1] + j, W)], flops=0, phase=0)
    for i in range(tc[0]):
        for j in range(tc[1]):
            b.launch(t["task_1"], (i, j), tc, [b.req(t["task_1"], "C", "C", i * tc[1] + j, W)], flops=0, phase=0)
    for i in range(ta[0]):
        for j in range(ta[1]):
            b.launch(t["task_2"], (i, j), ta, [b.req(t["task_2"], "A", "A", i * ta[1] + j, RW)], flops=0, phase=0)
    for i in range(tb[0]):
        for j in range(tb[1]):
            b.launch(t["task_3"], (i, j), tb, [b.req(t["task_3"], "B", "B", i * tb[1] + j, RW)], flops=0, phase=0)
    return t


def _epilogue(b: AppBuilder, t: dict, tc: tuple[int, int]):
    for name in ("validate", "task_7"):
        for i in range(tc[0]):
            for j in range(tc[1]):
                b.launch(t[name], (i, j), tc, [b.req(t[name], "C", "C", i * tc[1] + j, R)], flops=0, phase=2)


def _gemm(b: AppBuilder, t: dict, parent: int, a: int, bb: int, c: int, m: int, k: int, nn: int, red: bool):
    g = t["task_4"]
    reqs = [b.req(g, "A", "A", a, R), b.req(g, "B", "B", bb, R), b.req(g, "C", "C", c, RED if red else RW)]
    b.launch(g, (), (), reqs, flops=2.0 * m * k * nn, parent=parent)


def _launch5(b: AppBuilder, t: dict, pt, space) -> int:
    if "task_5" not in t:
        t["task_5"] = b.task("task_5", ALL3, True, tuple(space), [],
                             desc="per-step compute launch (inner task; each point launches one task_4).")
    return b.launch(t["task_5"], pt, space, [], flops=0)


def build_2d(name: str, machine: Machine, n: int = 49152, grid: int | None = None, variant: str = "cannon") -> App:
    """Cannon (shifted tiles) or SUMMA (broadcast panels) on a g x g grid; PUMMA on a 2g x 2g block-cyclic grid."""
    G = machine.nodes * machine.gpus_per_node
    g = grid or _square_grid(G)
    if variant == "pumma":
        g = grid or 2 * _square_grid(G)
    desc = {"cannon": "Cannon's algorithm: g steps; at step k point (i,j) multiplies A(i,(i+j+k)%g) by B((i+j+k)%g,j)",
            "summa": "SUMMA: g steps; at step k point (i,j) multiplies the broadcast panels A(i,k) and B(k,j)",
            "pumma": "PUMMA: SUMMA over a finer block-cyclic tile grid (2 tiles per processor-grid dimension)"}[variant]
    b = AppBuilder(name, desc + f"; C(i,j) += A x B on a {g}x{g} tile grid, n={n}", dict(n=n, grid=g))
    t = _common(b, n, (g, g), (g, g), (g, g), G, red=False)
    ts = n // g
    for k in range(g):
        for i in range(g):
            for j in range(g):
                p = _launch5(b, t, (i, j), (g, g))
                kk = (i + j + k) % g if variant == "cannon" else k
                _gemm(b, t, p, i * g + kk, kk * g + j, i * g + j, ts, ts, ts, red=False)
    _epilogue(b, t, (g, g))
    return b.build()


def build_3d(name: str, machine: Machine, n: int = 24576, grid: int | None = None, layers: int | None = None,
             variant: str = "johnson", substeps: int = 2) -> App:
    """Johnson's 3-D, Solomonik's 2.5-D and COSMA: a 3-D launch whose k-layers reduce into C."""
    G = machine.nodes * machine.gpus_per_node
    if variant == "solomonik":
        c = layers or 2
        rpoc = grid or c
        while (rpoc * rpoc * c) < 4 * G or rpoc % c or (rpoc * rpoc * c) % G:
            rpoc += 1
            if rpoc > 64:
                break
        space = (rpoc, rpoc, c)
        steps = rpoc // c
        tiles = (rpoc, rpoc)
        desc = (f"Solomonik's 2.5-D algorithm: {c} replicated layers over a {rpoc}x{rpoc} grid; layer l runs "
                f"{steps} Cannon step(s) and reduces its partial C")
        kt = rpoc
    else:
        g = grid or _cube_grid(G)
        space = (g, g, g)
        steps = substeps if variant == "cosma" else 1
        tiles = (g, g)
        kt = g * steps
        desc = ("Johnson's 3-D algorithm: point (i,j,l) multiplies A(i,l) by B(l,j) and reduces into C(i,j)"
                if variant == "johnson" else
                f"COSMA: a {g}x{g}x{g} grid whose points each run {steps} sequential k-sub-steps (less memory per step) "
                "and reduce into C(i,j)")
    b = AppBuilder(name, desc + f"; n={n}", dict(n=n, launch=space))
    ta = (tiles[0], kt)
    tb = (kt, tiles[1])
    t = _common(b, n, ta, tb, tiles, G, red=True)
    ti, tj, tk = n // tiles[0], n // tiles[1], n // kt
    for s in range(steps):
        for i in range(space[0]):
            for j in range(space[1]):
                for l in range(space[2]):
                    p = _launch5(b, t, (i, j, l), space)
                    if variant == "solomonik":
                        kk = (i + j + l * steps + s) % kt
                    else:
                        kk = l * steps + s
                    _gemm(b, t, p, i * kt + kk, kk * tiles[1] + j, i * tiles[1] + j, ti, tk, tj, red=True)
    _epilogue(b, t, tiles)
    return b.build()
