"""The three Regent applications as the paper's harness runs them: circuit, stencil, pennant.

Task names, region arguments (and their names), launch domains, privileges and the loop structure
come from the programs the harness builds (github.com/Anjiang-Wei/perfbench ``app/circuit/src2/
circuit_sparse.rg``, ``app/stencil/src2/stencil_fast.rg``, ``app/pennant/src0/pennant.rg``); sizes
from its ``run.py`` scripts, weak-scaled by the number of ranks as those scripts do. Each builder
records the source of every number in ``App.sources``. Bytes per element come from the programs'
field spaces; flops per element are counted from the kernels' loop bodies.

Simulated iterations: the real runs prune 30 warm-up iterations and time 10 (circuit, stencil) or
30 (pennant); the model runs one untimed warm-up iteration (enough to bring every instance to its
steady-state place) and times ``loops``/``tsteps``/``cycles`` iterations.
"""

from __future__ import annotations

import math

from systems.mapper.apps.base import R, RED, RW, W, App, AppBuilder
from systems.mapper.machine import Machine

GPU_CPU = ("GPU", "CPU")
CPU_ONLY = ("CPU",)


def build_circuit(machine: Machine, npp: int = 1000, wpp: int = 5000, pieces_per_rank: int = 40, pps: int = 10,
                  loops: int = 10, warmup: int = 1, steps: int = 10000, pct_shared: float = 1.0,
                  pct_in_piece: int = 80, window: int = 3) -> App:
    """Sparse circuit simulation (``circuit_sparse.rg``); one point per superpiece of ``pps`` pieces."""
    P = pieces_per_rank * machine.nodes
    S = max(1, P // pps)
    b = AppBuilder("circuit", "sparse electrical circuit simulation (Regent); per loop three index launches over "
                   f"the {S} superpieces: calculate_new_currents, distribute_charge, update_voltages",
                   dict(superpieces=S, pieces=P, npp=npp, wpp=wpp, pps=pps, loops=loops, steps=steps),
                   semantic_names=True, timing="timestamps")
    b.sources.update({
        "npp, wpp, -p = 40 x nodes, -pps 10, -l 10": "perfbench app/circuit/src2/run.py (the paper's harness); "
                                                     "paper notes for the values",
        "steps = STEPS = 10000, WIRE_SEGMENTS = 10": "circuit_sparse.rg constants",
        "pct_shared_nodes = 1.0 (%), pct_wire_in_piece = 80, window = 3": "circuit_sparse.rg toplevel defaults",
        "node 16 B (4 floats), wire 104 B (2 ptrs, 3 floats, 10 + 9 floats), timestamp 32 B": "fspace node/wire/timestamp",
        "flops per wire per step: 10 x 7 (currents) + 9 x 5 (voltages)": "calculate_new_currents inner loops",
        "semantic region names (-tm:use_semantic_name)": "legion language/pldi23_scripts/bsub_circuit.lsf dslcmd",
    })
    snpp = max(1, math.ceil(npp * pct_shared / 100.0))
    shared = pps * snpp
    private = pps * (npp - snpp)
    wires = pps * wpp
    node_b, wire_b = 16, 104
    b.region("all_private", S * private * node_b, S, fields=4, desc="nodes only their own superpiece's wires touch "
             "(partition rp_private).")
    b.region("all_shared", S * shared * node_b, S, fields=4, desc="nodes wires of other superpieces may touch "
             "(partition rp_shared; rp_ghost is an aliased image of it).")
    b.region("all_wires", S * wires * wire_b, S, fields=7, desc="wires: pointers, R/L/C and 10 current + 9 voltage "
             "segments (partition rp_wires).")
    b.region("all_times", S * 32, S, fields=4, desc="per-superpiece timestamps (partition rp_times).")
    b.region("ghost_ranges", S * 16, S, desc="per-superpiece range of shared nodes its wires reach (rp_ghost_ranges).")
    pt = [("rp_private", "all_private"), ("rp_shared", "all_shared"), ("rp_ghost", "all_shared"),
          ("rp_wires", "all_wires"), ("rp_times", "all_times")]
    begin = b.task("begin_init", CPU_ONLY, True, (S,), ["rp_times"], [pt[4]], desc="records the init start time.")
    init_piece = b.task("init_piece", CPU_ONLY, True, (S,), ["rp_ghost_ranges", "rp_private", "rp_shared",
                                                             "all_shared", "rp_wires"],
                        [("rp_ghost_ranges", "ghost_ranges"), pt[0], pt[1], ("all_shared",), pt[3]],
                        desc="builds a superpiece's nodes and wires (CPU only).")
    init_ptrs = b.task("init_pointers", CPU_ONLY, True, (S,), ["rp_private", "rp_shared", "rp_ghost", "rp_wires"],
                       pt[:4], desc="casts wire pointers into the private/shared/ghost regions (CPU only).")
    eff = {"GPU": 0.5, "CPU": 0.3, "OMP": 0.3}
    ccur = b.task("calculate_new_currents", GPU_CPU, True, (S,), ["rp_private", "rp_shared", "rp_ghost", "rp_wires",
                                                                   "rp_times"], pt, efficiency=eff,
                  desc=f"integrates each wire's RLC model over {steps} steps (compute bound).")
    dchg = b.task("distribute_charge", GPU_CPU, True, (S,), ["rp_private", "rp_shared", "rp_ghost", "rp_wires"], pt[:4],
                  efficiency={"GPU": 0.2, "CPU": 0.3, "OMP": 0.3},
                  desc="adds each wire's charge to its end nodes (reductions into shared and ghost nodes).")
    upd = b.task("update_voltages", GPU_CPU, True, (S,), ["rp_private", "rp_shared", "rp_times"], [pt[0], pt[1], pt[4]],
                 efficiency={"GPU": 0.3, "CPU": 0.3, "OMP": 0.3}, desc="updates node voltages from their charge.")
    elapsed = b.task("get_elapsed", CPU_ONLY, False, None, ["all_times"], [("all_times",)], desc="reads the timestamps.")
    summary = b.task("print_summary", CPU_ONLY, True, (S,), [], [], desc="prints the result (no regions).")
    # ghost: shared nodes of superpieces i-1, i, i+1 that wires reach (window of `window` pieces each side)
    edge = min(1.0, window / pps)
    ghost = [[(j, 1.0 if j == i else edge) for j in (i - 1, i, i + 1) if 0 <= j < S] for i in range(S)]
    sh_b = shared * node_b
    # initialisation (untimed): Regent fills, then init_piece / init_pointers on the CPUs
    for i in range(S):
        b.launch(begin, (i,), (S,), [b.req(begin, "rp_times", "all_times", i, W)], 0, phase=0)
    for i in range(S):
        b.launch(init_piece, (i,), (S,), [b.req(init_piece, "rp_ghost_ranges", "ghost_ranges", i, RW),
                                          b.req(init_piece, "rp_private", "all_private", i, RW),
                                          b.req(init_piece, "rp_shared", "all_shared", i, RW),
                                          b.req(init_piece, "rp_wires", "all_wires", i, RW)], wires * 20.0, phase=0)
    for i in range(S):
        reqs = [b.req(init_ptrs, "rp_wires", "all_wires", i, RW, nbytes=wires * 16)]
        b.launch(init_ptrs, (i,), (S,), reqs, wires * 4.0, phase=0)
    wire_flops = steps * (10 * 7 + 9 * 5)
    for loop in range(warmup + loops):
        ph = 0 if loop < warmup else 1
        for i in range(S):
            reqs = [b.req(ccur, "rp_private", "all_private", i, R, nbytes=private * 4, passes=2.0),
                    b.req(ccur, "rp_shared", "all_shared", i, R, nbytes=shared * 4, passes=2.0)]
            for j, f in ghost[i]:
                reqs.append(b.req(ccur, "rp_ghost", "all_shared", j, R, nbytes=int(sh_b * f), bbox=sh_b, passes=2.0))
            reqs += [b.req(ccur, "rp_wires", "all_wires", i, RW), b.req(ccur, "rp_times", "all_times", i, RW)]
            b.launch(ccur, (i,), (S,), reqs, wires * wire_flops, phase=ph)
        for i in range(S):
            reqs = [b.req(dchg, "rp_private", "all_private", i, RW, nbytes=private * 4, passes=8.0),
                    b.req(dchg, "rp_shared", "all_shared", i, RED, nbytes=shared * 4, passes=8.0)]
            for j, f in ghost[i]:
                reqs.append(b.req(dchg, "rp_ghost", "all_shared", j, RED, nbytes=int(sh_b * f), bbox=sh_b, passes=8.0))
            reqs.append(b.req(dchg, "rp_wires", "all_wires", i, R, nbytes=wires * 24))
            b.launch(dchg, (i,), (S,), reqs, wires * 4.0, phase=ph)
        for i in range(S):
            reqs = [b.req(upd, "rp_private", "all_private", i, RW), b.req(upd, "rp_shared", "all_shared", i, RW),
                    b.req(upd, "rp_times", "all_times", i, RW)]
            b.launch(upd, (i,), (S,), reqs, (private + shared) * 6.0, phase=ph)
    b.launch(elapsed, (), (), [b.req(elapsed, "all_times", "all_times", i, R) for i in range(S)], 0, phase=2)
    for i in range(S):
        b.launch(summary, (i,), (S,), [], 0, phase=2)
    return b.build()


def factorize_nodes(nodes: int) -> tuple[int, int]:
    """perfbench stencil run.py's ``factorize_nodes``: two factors as close as possible, smaller first."""
    root = int(math.sqrt(nodes))
    for i in range(root, 0, -1):
        if nodes % i == 0:
            return i, nodes // i
    return 1, nodes


def build_stencil(machine: Machine, tile_size: int = 10000, tsteps: int = 10, warmup: int = 1, radius: int = 2) -> App:
    """2-D radius-2 star stencil (``stencil_fast.rg``): per step ``stencil`` then ``increment`` over a 1-D launch
    of ``ntx x nty`` tiles; halos live in four separate ghost regions (xm, xp, ym, yp)."""
    fx, fy = factorize_nodes(machine.nodes)
    nx, ny = tile_size * fx, tile_size * fy
    ntx, nty = 2 * fx, 2 * fy
    T = ntx * nty
    b = AppBuilder("stencil", f"2-D radius-{radius} star stencil on a {nx}x{ny} grid of (input, output) doubles in "
                   f"{ntx}x{nty} tiles, launched as a 1-D index space of {T} tiles; each step runs stencil (reads the "
                   "four halo strips of the neighbours) then increment (writes its own halo strips)",
                   dict(nx=nx, ny=ny, tiles=(ntx, nty), tsteps=tsteps, radius=radius), semantic_names=False,
                   timing="timestamps")
    b.sources.update({
        "-nx/-ny = tile_size x factorize_nodes(nodes), -ntx/-nty = 2 x factors, -tsteps 10": "perfbench "
        "app/stencil/src2/run.py; tile_size 10000 from the paper notes",
        "tiles = ispace(int1d, ntx*nty); tasks stencil/increment/check/begin_init/get_*/print_time": "stencil_fast.rg main",
        "point = {input, output} doubles (16 B), RADIUS = 2": "stencil_common.rg / stencil_fast.rg",
        "regions matched by argument index (no -tm:use_semantic_name)": "legion pldi23_scripts/bsub_stencil.lsf dslcmd",
        "kernels walk tiles with dimension 0 fastest (F order)": "Regent loops over int2d rects (x innermost)",
    })
    tw, th = nx // ntx, ny // nty
    tile_pts = tw * th
    b.region("points", nx * ny * 16, T, fields=2, dims=2, order="F", desc="the grid (input, output) (partition private).")
    strip_x = radius * th * 16
    strip_y = radius * tw * 16
    for g, sb in (("xm", strip_x), ("xp", strip_x), ("ym", strip_y), ("yp", strip_y)):
        b.region(g, T * sb, T, fields=2, dims=2, order="F", desc=f"halo strips {g} (one per tile).")
    b.region("times", T * 32, T, fields=4, desc="per-tile timestamps.")
    args = ["private", "interior", "xm", "xp", "ym", "yp", "times"]
    st = b.task("stencil", GPU_CPU, True, (T,), args, efficiency={"GPU": 0.6, "CPU": 0.5, "OMP": 0.5},
                desc="copies the 4 neighbour halos into the tile and applies the star stencil (bandwidth bound).")
    inc = b.task("increment", GPU_CPU, True, (T,), ["private", "exterior", "xm", "xp", "ym", "yp", "times"],
                 efficiency={"GPU": 0.6, "CPU": 0.5, "OMP": 0.5}, desc="adds 1 to the tile's input and its own halo strips.")
    chk = b.task("check", CPU_ONLY, True, (T,), ["private", "interior"], desc="verifies a tile (untimed, CPU only).")
    begin = b.task("begin_init", CPU_ONLY, True, (T,), ["times"], desc="records the init start time.")
    gets = [b.task(n, CPU_ONLY, True, (T,), ["all_times"], desc="reads the timestamps.")
            for n in ("get_init_start", "get_init_stop", "get_start", "get_stop")]
    pt = b.task("print_time", CPU_ONLY, True, (T,), [], desc="prints the time (no regions).")
    pos = [(i // nty, i % nty) for i in range(T)]
    lin = {p: k for k, p in enumerate(pos)}

    def nb(i, dx, dy):
        x, y = pos[i]
        return lin.get((x + dx, y + dy))
    for i in range(T):
        b.launch(begin, (i,), (T,), [b.req(begin, "times", "times", i, W)], 0, phase=0)
    for step in range(warmup + tsteps):
        ph = 0 if step < warmup else 1
        for i in range(T):
            reqs = [b.req(st, "private", "points", i, RW, passes=1.5)]
            for g, (dx, dy) in (("xm", (-1, 0)), ("xp", (1, 0)), ("ym", (0, -1)), ("yp", (0, 1))):
                j = nb(i, dx, dy)
                if j is not None:  # the neighbour's strip (pxm_in): written by its increment
                    reqs.append(b.req(st, g, g, j, R, nbytes=(strip_x if g[0] == "x" else strip_y) // 2))
            reqs.append(b.req(st, "times", "times", i, RW))
            b.launch(st, (i,), (T,), reqs, tile_pts * (8 * radius + 1) * 2.0, phase=ph)
        for i in range(T):
            reqs = [b.req(inc, "private", "points", i, RW, nbytes=tile_pts * 8)]
            for g in ("xm", "xp", "ym", "yp"):
                reqs.append(b.req(inc, g, g, i, RW, nbytes=(strip_x if g[0] == "x" else strip_y) // 2))
            reqs.append(b.req(inc, "times", "times", i, RW))
            b.launch(inc, (i,), (T,), reqs, tile_pts * 1.0, phase=ph)
    for i in range(T):
        b.launch(chk, (i,), (T,), [b.req(chk, "private", "points", i, R)], tile_pts * 2.0, phase=2)
    for g in gets:
        for i in range(T):
            b.launch(g, (i,), (T,), [b.req(g, "all_times", "times", i, R)], 0, phase=2)
    for i in range(T):
        b.launch(pt, (i,), (T,), [], 0, phase=2)
    return b.build()


# pennant: (task, [(arg, privilege, fields touched / fields)], flops per zone)
_Z, _PP, _PG, _S = "rz", "rpp", "rpg", "rs"
_PENNANT_CYCLE = [
    ("init_step_points", "points", 2),
    ("init_step_zones", [(_Z, RW, 0.2)], 2),
    ("calc_global_dt", "single", 0),
    ("adv_pos_half", "points", 8),
    ("calc_centers", [(_Z, RW, 0.15), (_PP, R, 0.15), (_PG, R, 0.15), (_S, RW, 0.15)], 20),
    ("calc_volumes", [(_Z, RW, 0.2), (_PP, R, 0.15), (_PG, R, 0.15), (_S, RW, 0.2)], 30),
    ("calc_char_len", [(_Z, RW, 0.1), (_PP, R, 0.1), (_PG, R, 0.1), (_S, R, 0.15)], 12),
    ("calc_rho_half", [(_Z, RW, 0.15)], 4),
    ("sum_point_mass", [(_Z, R, 0.1), (_PP, RED, 0.1), (_PG, RED, 0.1), (_S, R, 0.1)], 8),
    ("calc_state_at_half", [(_Z, RW, 0.4)], 20),
    ("calc_force_pgas_tts", [(_Z, R, 0.2), (_PP, R, 0.1), (_PG, R, 0.1), (_S, RW, 0.25)], 40),
    ("qcs_zone_center_velocity", [(_Z, RW, 0.1), (_PP, R, 0.1), (_PG, R, 0.1), (_S, R, 0.1)], 12),
    ("qcs_corner_divergence", [(_Z, R, 0.15), (_PP, R, 0.2), (_PG, R, 0.2), (_S, RW, 0.3)], 60),
    ("qcs_qcn_force", [(_Z, R, 0.2), (_PP, R, 0.1), (_PG, R, 0.1), (_S, RW, 0.2)], 30),
    ("qcs_force", [(_Z, R, 0.1), (_PP, R, 0.1), (_PG, R, 0.1), (_S, RW, 0.25)], 20),
    ("qcs_vel_diff", [(_Z, RW, 0.15), (_PP, R, 0.15), (_PG, R, 0.15), (_S, R, 0.15)], 30),
    ("sum_point_force", [(_Z, R, 0.05), (_PP, RED, 0.1), (_PG, RED, 0.1), (_S, R, 0.15)], 16),
    ("apply_boundary_conditions", "points", 2),
    ("adv_pos_full", "points", 12),
    ("calc_centers_full", [(_Z, RW, 0.1), (_PP, R, 0.1), (_PG, R, 0.1), (_S, RW, 0.1)], 20),
    ("calc_volumes_full", [(_Z, RW, 0.15), (_PP, R, 0.1), (_PG, R, 0.1), (_S, RW, 0.15)], 30),
    ("calc_work", [(_Z, RW, 0.1), (_PP, R, 0.15), (_PG, R, 0.15), (_S, R, 0.15)], 30),
    ("calc_work_rate_energy_rho_full", [(_Z, RW, 0.3)], 10),
    ("calc_dt_hydro", [(_Z, R, 0.2)], 10),
    ("continue_simulation", "single", 0),
]
_PENNANT_ARGS = {_Z: ("rz_all_p", "rz_all"), _PP: ("rp_all_private_p", "rp_all_private"),
                 _PG: ("rp_all_ghost_p", "rp_all_ghost"), _S: ("rs_all_p", "rs_all")}


def build_pennant(machine: Machine, nzx: int = 2160, zones_y_per_piece: int = 270, pieces_per_rank: int | None = None,
                  cycles: int = 2, warmup: int = 1) -> App:
    """Lagrangian staggered-grid hydrodynamics (``pennant.rg``): the mesh is cut into ``npieces`` strips
    (``-numpcx 1 -numpcy npieces``); every cycle runs the index launches of ``simulate`` in order."""
    per = pieces_per_rank or machine.gpus_per_node
    P = per * machine.nodes
    nzy = zones_y_per_piece * P
    Z = nzx * zones_y_per_piece
    shared_pts = nzx + 1
    private_pts = (nzx + 1) * (zones_y_per_piece + 1) - shared_pts
    b = AppBuilder("pennant", f"Lagrangian staggered-grid hydrodynamics (Regent PENNANT) on a {nzx}x{nzy} zone mesh "
                   f"in {P} strips; points on a strip boundary are shared (rp_all_shared_p) and seen as ghosts "
                   "(rp_all_ghost_p) by both strips", dict(pieces=P, mesh=(nzx, nzy), cycles=cycles),
                   semantic_names=True, timing="fence")
    b.sources.update({
        "-npieces = 4 x nodes, -numpcx 1 -numpcy npieces": "perfbench app/pennant/src0/run.py",
        "mesh 2160 x 2160 on 2 nodes (sedovbig4x30), weak-scaled as 2160 x 270 zones per piece": "perfbench "
        "app/pennant/input/sedovbig4x30/sedovbig.pnt; weak scaling as legion pldi23_scripts/bsub_pennant.lsf "
        "(leblanc_long{16 x nodes}x30)",
        "task names, arguments, order and privileges per cycle": "pennant.rg simulate()",
        "zone 185 B, point 106 B, side ~200 B": "fspace zone/point/side in pennant_common.rg",
        "fence before the timed cycles": "pennant.rg simulate(): __fence at cycle == prune",
        "semantic region names": "legion pldi23_scripts/bsub_pennant.lsf dslcmd (-tm:use_semantic_name)",
    })
    zb, pb, sb = 185, 106, 200
    b.region("rz_all", P * Z * zb, P, fields=21, desc="zones (partition rz_all_p).")
    b.region("rp_all_private", P * private_pts * pb, P, fields=9, desc="points inside a strip (rp_all_private_p).")
    b.region("rp_all_ghost", P * shared_pts * pb, P, fields=9, desc="points on strip boundaries: each strip owns one "
             "boundary (rp_all_shared_p) and sees both of its boundaries (rp_all_ghost_p, aliased).")
    b.region("rs_all", P * 4 * Z * sb, P, fields=20, desc="sides, 4 per zone (rs_all_p).")
    b.region("dt", 8, 1, desc="the global time step (a future in the real code).")
    eff = {"GPU": 0.3, "CPU": 0.4, "OMP": 0.4}
    tasks = {}
    for name, spec, _ in _PENNANT_CYCLE:
        if spec == "single":
            tasks[name] = b.task(name, CPU_ONLY, False, None, ["dt"], [("dt",)], desc="a single CPU task on the "
                                 "time step (futures in the real code).")
        elif spec == "points":
            tasks[name] = b.task(name, GPU_CPU, True, (P,), ["rp"], [("rp_all_private_p", "rp_all_private")],
                                 efficiency=eff, desc="launched twice per cycle: on rp_all_private_p and on "
                                 "rp_all_shared_p.")
        else:
            args = [a for a, _, _ in spec]
            tasks[name] = b.task(name, GPU_CPU, True, (P,), args, [_PENNANT_ARGS[a] for a in args], efficiency=eff)
    init_names = ("init_pointers", "init_mesh_zones", "init_side_fracs", "init_hydro", "init_radial_velocity")
    init = {n: b.task(n, CPU_ONLY if n == "init_pointers" else GPU_CPU, True, (P,), [_Z, _PP, _PG, _S],
                      [_PENNANT_ARGS[a] for a in (_Z, _PP, _PG, _S)], efficiency=eff) for n in init_names}
    ghost = [[j for j in (i - 1, i) if 0 <= j < P - 1] for i in range(P)]
    region = {_Z: "rz_all", _PP: "rp_all_private", _S: "rs_all"}

    def full_reqs(t, spec, i):
        reqs = []
        for a, priv, frac in spec:
            if a == _PG:
                for j in ghost[i]:
                    reqs.append(b.req(t, a, "rp_all_ghost", j, priv, passes=frac))
            else:
                reqs.append(b.req(t, a, region[a], i, priv, passes=frac))
        return reqs
    for n in init_names:  # initialize(): one launch per init task (CPU or GPU), untimed
        t = init[n]
        spec = [(_Z, RW, 0.5), (_PP, RW, 0.5), (_PG, R, 0.5), (_S, RW, 0.5)]
        for i in range(P):
            b.launch(t, (i,), (P,), full_reqs(t, spec, i), Z * 20.0, phase=0)
    for cyc in range(warmup + cycles):
        ph = 0 if cyc < warmup else 1
        for name, spec, fpz in _PENNANT_CYCLE:
            t = tasks[name]
            if spec == "single":
                b.launch(t, (), (), [b.req(t, "dt", "dt", 0, RW)], 10.0, phase=ph)
            elif spec == "points":  # once over private points, once over the owned shared points
                for i in range(P):
                    b.launch(t, (i,), (P,), [b.req(t, "rp", "rp_all_private", i, RW, passes=0.4)],
                             private_pts * fpz, phase=ph)
                for i in range(P):  # the last strip owns no boundary: an empty subregion
                    reqs = [b.req(t, "rp", "rp_all_ghost", i, RW, passes=0.4,
                                  names=("rp_all_shared_p", "rp_all_ghost"))] if i < P - 1 else []
                    b.launch(t, (i,), (P,), reqs, shared_pts * fpz if reqs else 0.0, phase=ph)
            else:
                for i in range(P):
                    b.launch(t, (i,), (P,), full_reqs(t, spec, i), Z * fpz, phase=ph)
    return b.build()


__all__ = ["App", "build_circuit", "build_pennant", "build_stencil", "factorize_nodes"]
