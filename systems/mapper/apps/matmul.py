"""The six DISTAL (TACO-Legion) matrix multiplications as their generated code launches them: a = b x c.

Sources: github.com/Anjiang-Wei/taco ``legion/{cannonMM,summaMM,pummaMM,johnsonMM,cosma,solomonikMM}/
taco-generated.cu`` (task ids, launch domains, privileges, which tasks are inner, variants) and
``scripts/benchmark_lassen.py`` (problem size ``n = 20000 x sqrt(nodes)``, even; the processor grids;
``jsrun -a 4`` = 4 ranks of one GPU per node for Johnson and COSMA). DISTAL's names are kept: ``a`` is
the output, ``b`` and ``c`` the inputs; region arguments are matched by index (0 = a, 1 = b, 2 = c).

- Cannon / SUMMA / PUMMA (``-gx -gy``): ``task_7`` (OpenMP, inner) over the (gx, gy) node grid; each
  point launches ``gx`` single ``task_6`` (OpenMP, inner), one per outer k step; each launches ``task_5``
  (GPU, inner) over (2, 2) in its own address space, whose points launch two single ``task_4`` (the cuBLAS
  leaf) each. Cannon shifts the k block by ``(i + j + k) % gx``; SUMMA and PUMMA (identical generated code)
  do not. Placement ``task_1/2/3`` and ``taco_fill`` run over (2gx, 2gy).
- Johnson (``-gdim``) and COSMA (``-gx -gy -gz``): ``task_4`` is a 3-D index launch of the leaf; point
  (i, j, k) reduces b(i,k) c(k,j) into a(i,j); placement ``task_1`` (g,g,1), ``task_2`` (g,1,g), ``task_3`` (1,g,g).
- Solomonik (``-rpoc -c -rpoc3``): ``task_5`` (GPU, inner) over (rpoc, rpoc, c); each point launches ``rpoc3``
  single ``task_4``, layer k reducing its share of the k dimension into a(i,j) with Cannon's shift.

The timed phase is one ``computeLegion`` call after an execution fence (DISTAL's ``benchmark()``),
preceded by the fills and placements of the same iteration (untimed) and followed by ``taco_validate``.
"""

from __future__ import annotations

import math

from systems.mapper.apps.base import R, RED, RW, W, App, AppBuilder
from systems.mapper.machine import Machine

GEMM_EFF = {"GPU": 0.85, "OMP": 0.7, "CPU": 0.8}
"""cuBLAS/BLAS dgemm efficiency (fraction of peak)."""
INITIAL_N = 20000
"""``dmmgpu`` in benchmark_lassen.py: the 1-node problem size."""
JOHNSON_DIMS = {4: 2, 8: 2, 16: 4, 32: 4, 64: 4, 128: 6, 256: 7}
"""JohnsonGPUBench.dims: total GPUs -> grid dimension."""
COSMA_DECOMP = {2: (2, 1, 1), 4: (1, 2, 2), 8: (2, 2, 2), 16: (2, 2, 4), 32: (2, 4, 4), 64: (4, 4, 4),
                128: (4, 4, 8), 256: (4, 8, 8), 512: (8, 8, 8)}
"""LgCOSMABench.decomp: total GPUs -> (gx, gy, gz)."""
SOLOMONIK_PARAMS = {4: (2, 1, 2), 8: (2, 2, 2), 16: (4, 1, 4), 32: (4, 2, 4), 64: (8, 1, 8), 128: (8, 2, 8),
                    256: (16, 1, 16), 512: (16, 2, 16), 1024: (32, 1, 32)}
"""SolomonikGPUBench.params: total GPUs -> (rpoc, c, rpoc3)."""


def problem_size(physical_nodes: int) -> int:
    """``DMMBench.problemSize``: ``int(20000 * sqrt(nodes))``, made even."""
    n = int(INITIAL_N * math.sqrt(physical_nodes))
    return n - n % 2


def nearest_square(x: float) -> int:
    val = 1
    while True:
        sq = val * val
        if sq > x:
            return val - 1
        if sq == x:
            return val
        val += 1


def getgx(procs: int) -> int:
    """``CannonBench.getgx``: sqrt(procs) when square, else the nearest square root of procs / 2."""
    ns = nearest_square(procs)
    if ns * ns == procs:
        return ns
    return max(1, nearest_square(procs / 2))


def _common(b: AppBuilder, G: int):
    t = {"init_cublas": b.task("init_cublas", ("GPU",), True, (G,), [], desc="creates a cuBLAS handle on every GPU.")}
    return t


def _tiles(b: AppBuilder, name: str, rows: int, cols: int, n_rows: int, n_cols: int, desc: str) -> None:
    b.region(name, n_rows * n_cols * 8, rows * cols, dims=2, order="C", desc=desc + f" ({rows}x{cols} tiles of "
             f"{n_rows // rows}x{n_cols // cols} doubles).")


def _assign(n_pieces: int, n_blocks: int) -> list[int]:
    """Block of each of ``n_pieces`` consecutive pieces when a dimension is cut into ``n_blocks`` blocks."""
    return [min(n_blocks - 1, (2 * p + 1) * n_blocks // (2 * n_pieces)) for p in range(n_pieces)]


def _place(b: AppBuilder, task, region: str, grid: tuple[int, ...], piece_shape: tuple[int, int], dims: tuple[int, int],
           space: tuple[int, ...], priv: int, phase: int, flops_per_byte: float = 0.0) -> None:
    """One index launch over ``space`` whose point covers the pieces of ``region`` in its block.

    ``dims`` says which two launch dimensions index the region's rows and columns."""
    pr, pc = piece_shape
    rows = _assign(pr, grid[dims[0]])
    cols = _assign(pc, grid[dims[1]])
    for pt in _points(space):
        reqs = []
        for r in range(pr):
            for c in range(pc):
                if rows[r] == pt[dims[0]] and cols[c] == pt[dims[1]]:
                    reqs.append(b.req(task, task.regions[0], region, r * pc + c, priv))
        b.launch(task, pt, space, reqs, flops_per_byte * sum(q.nbytes for q in reqs), phase=phase)


def _points(space):
    if len(space) == 1:
        return [(i,) for i in range(space[0])]
    if len(space) == 2:
        return [(i, j) for i in range(space[0]) for j in range(space[1])]
    return [(i, j, k) for i in range(space[0]) for j in range(space[1]) for k in range(space[2])]


ALL3 = ("GPU", "OMP", "CPU")


def build_2d(name: str, machine: Machine, n: int | None = None, variant: str = "cannon") -> App:
    """Cannon (shifted k blocks) or SUMMA/PUMMA (broadcast k blocks) with DISTAL's hierarchical launches."""
    procs = machine.nodes
    if variant == "cannon":  # benchmark_lassen.py swaps gx and gy for Cannon so that x gets the larger extent
        gy = getgx(procs)
        gx = procs // gy
    else:
        gx = getgx(procs)
        gy = procs // gx
    n = n or problem_size(machine.physical_nodes)
    G = machine.nodes * machine.gpus_per_node
    b = AppBuilder(name, f"{variant.upper() if variant != 'cannon' else 'Cannon'} matrix multiplication a = b x c "
                   f"(DISTAL), n = {n}, node grid gx x gy = {gx} x {gy}, 2 x 2 GPUs per node; {gx} outer k steps of 2 "
                   "inner steps", dict(n=n, gx=gx, gy=gy), semantic_names=False, timing="fence")
    b.sources.update({
        "n = int(20000 * sqrt(nodes)) (even), gx/gy from getgx": "taco scripts/benchmark_lassen.py (dmmgpu, "
        "CannonBench/SUMMABench; Cannon swaps gx and gy)",
        "task_7 (gx,gy) OMP inner -> task_6 single OMP inner -> task_5 (2,2) GPU inner (SAME_ADDRESS_SPACE) -> "
        "2 x task_4 single GPU leaf (cuBLAS dgemm)": f"taco legion/{name}MM/taco-generated.cu",
        "placement task_1/2/3 and fills over (2gx, 2gy)": "taco-generated.cu placeLegionA/B/C; main.cpp",
        "k block of step (ko, kio): Cannon 2((jn+in+ko) % gx) + (jln+iln+kio) % 2, SUMMA/PUMMA 2 ko + kio":
        "taco-generated.cu task_5 colorings",
    })
    ra, ca = 2 * gx, 2 * gy      # a: rows (in, iln), cols (jn, jln)
    kb = 2 * gx                  # k blocks (ko, kio)
    _tiles(b, "a", ra, ca, n, n, "output a")
    _tiles(b, "b", ra, kb, n, n, "input b (rows i, k)")
    _tiles(b, "c", kb, ca, n, n, "input c (k, columns j)")
    t = _common(b, G)
    fill = b.task("taco_fill", ALL3, True, (ra, ca), ["tensor"], desc="fills a tile of a, b or c.")
    p1 = b.task("task_1", ("GPU",), True, (ra, ca), ["a"], desc="places a's tiles (read-only, maps an instance).")
    p2 = b.task("task_2", ("GPU",), True, (ra, ca), ["b"], desc="places b's tiles.")
    p3 = b.task("task_3", ("GPU",), True, (ra, ca), ["c"], desc="places c's tiles.")
    t7 = b.task("task_7", ("OMP",), True, (gx, gy), ["a", "b", "c"], inner=True,
                desc=f"compute over the node grid; each point runs {gx} task_6 steps in order.")
    t6 = b.task("task_6", ("OMP",), False, None, ["a", "b", "c"], inner=True, desc="one outer k step of a node; "
                "launches task_5 over (2, 2) in its address space.")
    t5 = b.task("task_5", ("GPU",), True, (2, 2), ["a", "b", "c"], inner=True, local=True,
                desc="one GPU's share of a k step; launches two task_4.")
    t4 = b.task("task_4", ("GPU",), False, None, ["a", "b", "c"], library=True, efficiency=dict(GEMM_EFF),
                desc="cuBLAS dgemm a(i,j) += b(i,k) c(k,j) on one tile triple (needs C-order operands).")
    val = b.task("taco_validate", ALL3, True, (ra, ca), ["a"], desc="checks a tile of a.")
    for g in range(G):
        b.launch(t["init_cublas"], (g,), (G,), [], 0, phase=0)
    for reg, shape in (("a", (ra, ca)), ("b", (ra, kb)), ("c", (kb, ca))):
        _place(b, fill, reg, (ra, ca), shape, (0, 1), (ra, ca), W, 0)
    _place(b, p1, "a", (ra, ca), (ra, ca), (0, 1), (ra, ca), R, 0)
    _place(b, p2, "b", (ra, ca), (ra, kb), (0, 1), (ra, ca), R, 0)
    _place(b, p3, "c", (ra, ca), (kb, ca), (0, 1), (ra, ca), R, 0)
    tr, tc, tk = n // ra, n // ca, n // kb
    for i in range(gx):
        for j in range(gy):
            p7 = b.launch(t7, (i, j), (gx, gy), [], 0)
            for ko in range(gx):
                p6 = b.launch(t6, (), (), [], 0, parent=p7)
                for il in range(2):
                    for jl in range(2):
                        p5 = b.launch(t5, (il, jl), (2, 2), [], 0, parent=p6)
                        for kio in range(2):
                            if variant == "cannon":
                                k = 2 * ((j + i + ko) % gx) + (jl + il + kio) % 2
                            else:
                                k = 2 * ko + kio
                            ai = (2 * i + il) * ca + (2 * j + jl)
                            reqs = [b.req(t4, "a", "a", ai, RW), b.req(t4, "b", "b", (2 * i + il) * kb + k, R),
                                    b.req(t4, "c", "c", k * ca + (2 * j + jl), R)]
                            b.launch(t4, (), (), reqs, 2.0 * tr * tk * tc, parent=p5)
    _place(b, val, "a", (ra, ca), (ra, ca), (0, 1), (ra, ca), R, 2)
    return b.build()


def _grid3(variant: str, machine: Machine) -> tuple[int, int, int]:
    total = machine.nodes * machine.gpus_per_node
    if variant == "johnson":
        g = JOHNSON_DIMS.get(total) or max(1, round(total ** (1 / 3)))
        return g, g, g
    if variant == "cosma":
        if total in COSMA_DECOMP:
            return COSMA_DECOMP[total]
        from systems.mapper.dsl.mspace import balanced_factors
        f = balanced_factors(total, 3) if total > 1 else (1, 1, 1)
        return tuple(sorted(f))  # type: ignore[return-value]
    raise ValueError(variant)


def build_3d(name: str, machine: Machine, n: int | None = None, variant: str = "johnson") -> App:
    """Johnson's 3-D algorithm and COSMA: the leaf ``task_4`` is itself a 3-D index launch reducing into a."""
    gx, gy, gz = _grid3(variant, machine)
    n = n or problem_size(machine.physical_nodes)
    G = machine.nodes * machine.gpus_per_node
    b = AppBuilder(name, f"{'Johnson' if variant == 'johnson' else 'COSMA'} 3-D matrix multiplication a = b x c "
                   f"(DISTAL), n = {n}, task_4 over ({gx}, {gy}, {gz}): point (i, j, k) reduces b(i,k) c(k,j) into "
                   "a(i,j)", dict(n=n, grid=(gx, gy, gz)), semantic_names=False, timing="fence")
    b.sources.update({
        "n = int(20000 * sqrt(nodes)) (even)": "taco scripts/benchmark_lassen.py DMMBench.problemSize",
        "grid: Johnson dims[total GPUs], COSMA decomp[total GPUs]": "benchmark_lassen.py JohnsonGPUBench / LgCOSMAGPUBench",
        "4 ranks of 1 GPU per node (jsrun -a 4; -ll:gpu 1 -ll:cpu 1 -ll:csize 37500)":
        "benchmark_lassen.py lassenHeader_multirank, lgGPUMultShardsArgs; taco build/parse_results.py",
        "task_1 (gx,gy,1), task_2 (gx,1,gz), task_3 (1,gy,gz), task_4 (gx,gy,gz) with a reduced (LEGION_REDOP_SUM)":
        f"taco legion/{'johnsonMM' if variant == 'johnson' else 'cosma'}/taco-generated.cu",
    })
    _tiles(b, "a", gx, gy, n, n, "output a")
    _tiles(b, "b", gx, gz, n, n, "input b (rows i, k)")
    _tiles(b, "c", gz, gy, n, n, "input c (k, columns j)")
    t = _common(b, G)
    fill = b.task("taco_fill", ALL3, True, (gx, gy), ["tensor"], desc="fills a tile of a, b or c.")
    p1 = b.task("task_1", ("GPU",), True, (gx, gy, 1), ["a"], desc="places a's tiles.")
    p2 = b.task("task_2", ("GPU",), True, (gx, 1, gz), ["b"], desc="places b's tiles.")
    p3 = b.task("task_3", ("GPU",), True, (1, gy, gz), ["c"], desc="places c's tiles.")
    t4 = b.task("task_4", ("GPU",), True, (gx, gy, gz), ["a", "b", "c"], library=True, efficiency=dict(GEMM_EFF),
                desc="cuBLAS dgemm of one (i, j, k) block, reducing into a(i,j).")
    val = b.task("taco_validate", ALL3, True, (gx, gy), ["a"], desc="checks a tile of a.")
    for g in range(G):
        b.launch(t["init_cublas"], (g,), (G,), [], 0, phase=0)
    for reg, shape in (("a", (gx, gy)), ("b", (gx, gz)), ("c", (gz, gy))):
        _place(b, fill, reg, (gx, gy), shape, (0, 1), (gx, gy), W, 0)
    _place(b, p1, "a", (gx, gy, 1), (gx, gy), (0, 1), (gx, gy, 1), R, 0)
    _place(b, p2, "b", (gx, 1, gz), (gx, gz), (0, 2), (gx, 1, gz), R, 0)
    _place(b, p3, "c", (1, gy, gz), (gz, gy), (2, 1), (1, gy, gz), R, 0)
    ti, tj, tk = n // gx, n // gy, n // gz
    for i in range(gx):
        for j in range(gy):
            for k in range(gz):
                reqs = [b.req(t4, "a", "a", i * gy + j, RED), b.req(t4, "b", "b", i * gz + k, R),
                        b.req(t4, "c", "c", k * gy + j, R)]
                b.launch(t4, (i, j, k), (gx, gy, gz), reqs, 2.0 * ti * tj * tk)
    _place(b, val, "a", (gx, gy), (gx, gy), (0, 1), (gx, gy), R, 2)
    return b.build()


def build_solomonik(machine: Machine, n: int | None = None) -> App:
    """Solomonik's 2.5-D algorithm: ``task_5`` (inner) over (rpoc, rpoc, c), ``rpoc3`` single ``task_4`` per point."""
    total = machine.nodes * machine.gpus_per_node
    if total in SOLOMONIK_PARAMS:
        rpoc, c, rpoc3 = SOLOMONIK_PARAMS[total]
    else:
        rpoc = max(1, nearest_square(total))
        c = max(1, total // (rpoc * rpoc))
        rpoc3 = rpoc
    n = n or problem_size(machine.physical_nodes)
    G = total
    kb = c * rpoc3
    b = AppBuilder("solomonik", f"Solomonik's 2.5-D matrix multiplication a = b x c (DISTAL), n = {n}, task_5 over "
                   f"(rpoc, rpoc, c) = ({rpoc}, {rpoc}, {c}), each point reducing {rpoc3} k blocks into a(i,j)",
                   dict(n=n, rpoc=rpoc, c=c, rpoc3=rpoc3), semantic_names=False, timing="fence")
    b.sources.update({
        "n = int(20000 * sqrt(nodes)) (even); (rpoc, c, rpoc3) = params[total GPUs]": "taco scripts/benchmark_lassen.py "
        "SolomonikGPUBench",
        "task_1/2/3 (rpoc,rpoc,1); task_5 (rpoc,rpoc,c) GPU inner; rpoc3 single task_4 per point reducing into a":
        "taco legion/solomonikMM/taco-generated.cu",
    })
    _tiles(b, "a", rpoc, rpoc, n, n, "output a")
    _tiles(b, "b", rpoc, kb, n, n, "input b (rows i, k)")
    _tiles(b, "c", kb, rpoc, n, n, "input c (k, columns j)")
    t = _common(b, G)
    fill = b.task("taco_fill", ALL3, True, (rpoc, rpoc), ["tensor"], desc="fills a tile of a, b or c.")
    p1 = b.task("task_1", ("GPU",), True, (rpoc, rpoc, 1), ["a"], desc="places a's tiles.")
    p2 = b.task("task_2", ("GPU",), True, (rpoc, rpoc, 1), ["b"], desc="places b's tiles.")
    p3 = b.task("task_3", ("GPU",), True, (rpoc, rpoc, 1), ["c"], desc="places c's tiles.")
    t5 = b.task("task_5", ("GPU",), True, (rpoc, rpoc, c), ["a", "b", "c"], inner=True,
                desc=f"one (i, j, layer) point; launches {rpoc3} task_4 over its layer's k blocks.")
    t4 = b.task("task_4", ("GPU",), False, None, ["a", "b", "c"], library=True, efficiency=dict(GEMM_EFF),
                desc="cuBLAS dgemm reducing b(i,k) c(k,j) into a(i,j).")
    val = b.task("taco_validate", ALL3, True, (rpoc, rpoc), ["a"], desc="checks a tile of a.")
    for g in range(G):
        b.launch(t["init_cublas"], (g,), (G,), [], 0, phase=0)
    for reg, shape in (("a", (rpoc, rpoc)), ("b", (rpoc, kb)), ("c", (kb, rpoc))):
        _place(b, fill, reg, (rpoc, rpoc), shape, (0, 1), (rpoc, rpoc), W, 0)
    _place(b, p1, "a", (rpoc, rpoc, 1), (rpoc, rpoc), (0, 1), (rpoc, rpoc, 1), R, 0)
    _place(b, p2, "b", (rpoc, rpoc, 1), (rpoc, kb), (0, 1), (rpoc, rpoc, 1), R, 0)
    _place(b, p3, "c", (rpoc, rpoc, 1), (kb, rpoc), (1, 0), (rpoc, rpoc, 1), R, 0)
    ti, tk = n // rpoc, n // kb
    for i in range(rpoc):
        for j in range(rpoc):
            for k in range(c):
                p5 = b.launch(t5, (i, j, k), (rpoc, rpoc, c), [], 0)
                for s in range(rpoc3):
                    kk = k * rpoc3 + (i + j + s) % rpoc3
                    reqs = [b.req(t4, "a", "a", i * rpoc + j, RED), b.req(t4, "b", "b", i * kb + kk, R),
                            b.req(t4, "c", "c", kk * rpoc + j, R)]
                    b.launch(t4, (), (), reqs, 2.0 * ti * tk * ti, parent=p5)
    _place(b, val, "a", (rpoc, rpoc), (rpoc, rpoc), (0, 1), (rpoc, rpoc), R, 2)
    return b.build()


__all__ = ["App", "build_2d", "build_3d", "build_solomonik", "getgx", "problem_size"]
