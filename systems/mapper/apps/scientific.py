"""The three Regent applications: circuit, stencil, pennant (task names from the real codes).

Sizes follow the run settings in the paper notes (circuit ``-npp 1000 -wpp 5000 -l 10``, stencil
``10000 x nodes`` points per dimension, 10 time steps); pennant's mesh is our choice (the notes give
none). Bytes and flops per element are estimates from the programs' field lists (docs/mapper-model.md).
"""

from __future__ import annotations

import math

from systems.mapper.apps.base import R, RED, RW, W, App, AppBuilder
from systems.mapper.machine import Machine

GPU_CPU = ("GPU", "CPU")
ALL3 = ("GPU", "OMP", "CPU")


def _ring_neighbours(p: int, n: int, seed: int) -> list[int]:
    """Pieces i-1, i+1 and one pseudo-random piece (a crossing wire), deterministic in ``seed``."""
    out = []
    for d in (-1, 1):
        j = (p + d) % n
        if j != p and j not in out:
            out.append(j)
    x = (p * 2654435761 + seed * 40503 + 12345) % 2**32
    j = x % n
    if j != p and j not in out:
        out.append(j)
    return out


def build_circuit(machine: Machine, pieces: int | None = None, npp: int = 1000, wpp: int = 5000, loops: int = 8,
                  shared_frac: float = 0.1, seed: int = 0) -> App:
    """Sparse circuit simulation: pieces of a random circuit graph, three index launches per loop."""
    gpus = machine.nodes * machine.gpus_per_node
    P = pieces or 5 * gpus
    b = AppBuilder("circuit", "sparse electrical circuit simulation (Regent); each loop runs calculate_new_currents, "
                   "distribute_charge and update_voltages over all pieces", dict(pieces=P, npp=npp, wpp=wpp, loops=loops))
    node_b, wire_b = 16, 112  # node: capacitance, leakage, charge, voltage (f32); wire: 2 ptrs, 3 f32, 10+9 f32 arrays
    n_shared = max(1, int(npp * shared_frac))
    n_priv = npp - n_shared
    b.region("rp_private", P * n_priv * node_b, P, fields=4, desc="nodes only their own piece's wires touch.")
    b.region("rp_shared", P * n_shared * node_b, P, fields=4,
             desc="nodes on a piece boundary (other pieces' wires touch them).")
    nbrs = [_ring_neighbours(p, P, seed) for p in range(P)]
    ghost_frac = 1.0 / 3.0
    b.region("rp_ghost", int(P * n_shared * node_b * ghost_frac * 3), P, fields=4, alias_of="rp_shared",
             desc="the neighbouring pieces' shared nodes this piece's wires touch.")
    b.region("rw", P * wpp * wire_b, P, fields=7, desc="wires of each piece (currents and voltages along 10 segments).")
    ccur = b.task("calculate_new_currents", GPU_CPU, True, (P,), ["rp_private", "rp_shared", "rp_ghost", "rw"],
                  efficiency={"GPU": 0.3, "CPU": 0.5, "OMP": 0.5}, desc="integrates wire currents over 10 sub-steps.")
    dchg = b.task("distribute_charge", GPU_CPU, True, (P,), ["rp_private", "rp_shared", "rp_ghost", "rw"],
                  efficiency={"GPU": 0.2, "CPU": 0.5, "OMP": 0.5}, desc="reduces wire charge into the end nodes.")
    upd = b.task("update_voltages", GPU_CPU, True, (P,), ["rp_private", "rp_shared"],
                 efficiency={"GPU": 0.3, "CPU": 0.5, "OMP": 0.5}, desc="updates node voltages from charge.")
    gather = 4.0  # pointer-chasing node reads move whole 32-byte sectors for 8-byte accesses
    for _ in range(loops):
        for p in range(P):
            reqs = [b.req(ccur, "rp_private", "rp_private", p, R, passes=gather),
                    b.req(ccur, "rp_shared", "rp_shared", p, R, passes=gather)]
            for j in nbrs[p]:
                gb = int(n_shared * node_b * ghost_frac)
                reqs.append(b.req(ccur, "rp_ghost", "rp_shared", j, R, nbytes=gb, bbox=n_shared * node_b, passes=gather))
            reqs.append(b.req(ccur, "rw", "rw", p, RW, passes=10))
            b.launch(ccur, (p,), (P,), reqs, flops=wpp * 10 * 40)
        for p in range(P):
            reqs = [b.req(dchg, "rp_private", "rp_private", p, RED, passes=gather),
                    b.req(dchg, "rp_shared", "rp_shared", p, RED, passes=gather)]
            for j in nbrs[p]:
                gb = int(n_shared * node_b * ghost_frac)
                reqs.append(b.req(dchg, "rp_ghost", "rp_shared", j, RED, nbytes=gb, bbox=n_shared * node_b, passes=gather))
            reqs.append(b.req(dchg, "rw", "rw", p, R))
            b.launch(dchg, (p,), (P,), reqs, flops=wpp * 8)
        for p in range(P):
            reqs = [b.req(upd, "rp_private", "rp_private", p, RW), b.req(upd, "rp_shared", "rp_shared", p, RW)]
            b.launch(upd, (p,), (P,), reqs, flops=npp * 6)
    return b.build()


def _grid2(n: int) -> tuple[int, int]:
    a = int(math.sqrt(n))
    while n % a:
        a -= 1
    return (n // a, a)


def build_stencil(machine: Machine, nx: int | None = None, ny: int | None = None, tiles: tuple[int, int] | None = None,
                  tsteps: int = 10, radius: int = 2) -> App:
    """2-D star stencil (Regent PRK stencil): per step ``stencil`` then ``increment`` over a tile grid."""
    gx, gy = _grid2(machine.nodes)
    nx = nx or 10000 * gx
    ny = ny or 10000 * gy
    tx, ty = tiles or (2 * gx * max(1, machine.gpus_per_node // 4), 2 * gy * max(1, machine.gpus_per_node // 4))
    T = tx * ty
    b = AppBuilder("stencil", f"2-D radius-{radius} star stencil on a {nx}x{ny} grid of doubles in {tx}x{ty} tiles; "
                   "each time step runs stencil (reads a tile and its halo, writes the output field) then increment",
                   dict(nx=nx, ny=ny, tiles=(tx, ty), tsteps=tsteps, radius=radius))
    tile_pts = (nx // tx) * (ny // ty)
    b.region("points_in", nx * ny * 8, T, dims=2, desc="input field of every tile.")
    b.region("points_out", nx * ny * 8, T, dims=2, desc="output field of every tile.")
    halo_x = radius * (ny // ty) * 8
    halo_y = radius * (nx // tx) * 8
    b.region("ghost", 2 * (halo_x + halo_y), T, dims=2, alias_of="points_in",
             desc="halo of width radius from the 4 neighbouring tiles' input field.")
    st = b.task("stencil", ALL3, True, (tx, ty), ["private", "ghost"], efficiency={"GPU": 0.5, "CPU": 0.5, "OMP": 0.5},
                desc="applies the star stencil to a tile.")
    inc = b.task("increment", ALL3, True, (tx, ty), ["private"], efficiency={"GPU": 0.5, "CPU": 0.5, "OMP": 0.5},
                 desc="adds 1 to the input field of a tile.")
    chk = b.task("check", ("CPU", "OMP"), True, (tx, ty), ["private"], desc="verifies a tile (untimed).")
    pt = b.task("print_time", ("CPU",), True, (tx, ty), [], desc="reports the time of a tile (untimed).")
    pts = [(i, j) for i in range(tx) for j in range(ty)]
    lin = {p: p[0] * ty + p[1] for p in pts}
    for _ in range(tsteps):
        for p in pts:
            i, j = p
            reqs = [b.req(st, "private", "points_in", lin[p], R), b.req(st, "private", "points_out", lin[p], W)]
            for (di, dj, hb) in ((-1, 0, halo_x), (1, 0, halo_x), (0, -1, halo_y), (0, 1, halo_y)):
                q = (i + di, j + dj)
                if radius > 0 and 0 <= q[0] < tx and 0 <= q[1] < ty:
                    reqs.append(b.req(st, "ghost", "points_in", lin[q], R, nbytes=hb))
            b.launch(st, p, (tx, ty), reqs, flops=tile_pts * (8 * radius + 1) * 2)
        for p in pts:
            b.launch(inc, p, (tx, ty), [b.req(inc, "private", "points_in", lin[p], RW)], flops=tile_pts)
    for p in pts:
        b.launch(chk, p, (tx, ty), [b.req(chk, "private", "points_out", lin[p], R)], flops=tile_pts, phase=2)
    for p in pts:
        b.launch(pt, p, (tx, ty), [], flops=0, phase=2)
    return b.build()


def build_pennant(machine: Machine, pieces: int | None = None, zones_per_piece: int = 60000, cycles: int = 5) -> App:
    """Lagrangian hydrodynamics on an unstructured mesh (Regent PENNANT), 13 index launches per cycle."""
    gpus = machine.nodes * machine.gpus_per_node
    P = pieces or 2 * gpus
    Z = zones_per_piece
    b = AppBuilder("pennant", "Lagrangian staggered-grid hydrodynamics (Regent PENNANT) on a mesh cut into strips; "
                   "points on strip boundaries are shared with the neighbouring strips",
                   dict(pieces=P, zones_per_piece=Z, cycles=cycles))
    side = int(math.sqrt(Z))
    n_sh = 2 * side
    n_pp = Z - n_sh
    zb, pb, sb = 96, 80, 112
    b.region("rz", P * Z * zb, P, fields=12, desc="zones (density, energy, pressure, volume, ...).")
    b.region("rp_private", P * n_pp * pb, P, fields=10, desc="points inside a strip.")
    b.region("rp_shared", P * n_sh * pb, P, fields=10, desc="points on a strip boundary.")
    b.region("rp_ghost", P * n_sh * pb, P, fields=10, alias_of="rp_shared", desc="the neighbouring strips' boundary points.")
    b.region("rs", P * 4 * Z * sb, P, fields=14, desc="sides (4 per zone: corner masses, forces, surface vectors).")
    b.region("dt", 8 * P, P, desc="per-piece time-step candidates (a scalar each).")
    eff = {"GPU": 0.3, "CPU": 0.4, "OMP": 0.4}
    pt_args = ["rp_private", "rp_shared"]
    full = ["rz", "rp_private", "rp_shared", "rp_ghost", "rs"]
    specs = [  # (task, args, flops/zone, {arg: priv})
        ("adv_pos_half", pt_args + ["dt"], 10, {"rp_private": RW, "rp_shared": RW, "dt": R}),
        ("calc_centers", full, 20, {"rz": RW, "rp_private": R, "rp_shared": R, "rp_ghost": R, "rs": RW}),
        ("calc_volumes", full, 30, {"rz": RW, "rp_private": R, "rp_shared": R, "rp_ghost": R, "rs": RW}),
        ("calc_char_len", ["rz", "rs"], 12, {"rz": RW, "rs": R}),
        ("calc_rho_half", ["rz"], 4, {"rz": RW}),
        ("sum_point_mass", full, 8, {"rz": R, "rs": R, "rp_private": RED, "rp_shared": RED, "rp_ghost": RED}),
        ("calc_state_at_half", ["rz"], 20, {"rz": RW}),
        ("calc_force_pgas_tts", ["rz", "rs"], 40, {"rz": R, "rs": RW}),
        ("sum_point_force", ["rs", "rp_private", "rp_shared", "rp_ghost"], 16,
         {"rs": R, "rp_private": RED, "rp_shared": RED, "rp_ghost": RED}),
        ("apply_boundary_conditions", pt_args, 2, {"rp_private": RW, "rp_shared": RW}),
        ("adv_pos_full", pt_args, 12, {"rp_private": RW, "rp_shared": RW}),
        ("calc_work", full, 30, {"rz": RW, "rs": R, "rp_private": R, "rp_shared": R, "rp_ghost": R}),
        ("calc_dt_hydro", ["rz", "dt"], 10, {"rz": R, "dt": RED}),
    ]
    tasks = {name: b.task(name, ALL3, True, (P,), args, efficiency=eff) for name, args, _, _ in specs}
    gdt = b.task("calc_global_dt", ("CPU",), False, None, ["dt"], desc="min-reduces the time step (a single task).")
    nbrs = [[j for j in ((p - 1) % P, (p + 1) % P) if j != p] for p in range(P)]
    if P == 2:
        nbrs = [[1 - p] for p in range(P)]
    fields_touched = {"rz": 4, "rp_private": 4, "rp_shared": 4, "rp_ghost": 4, "rs": 5, "dt": 1}
    field_count = {"rz": 12, "rp_private": 10, "rp_shared": 10, "rp_ghost": 10, "rs": 14, "dt": 1}
    for _ in range(cycles):
        for name, args, fpz, privs in specs:
            t = tasks[name]
            for p in range(P):
                reqs = []
                for a in args:
                    frac = fields_touched[a] / field_count[a]
                    if a == "rp_ghost":
                        for j in nbrs[p]:
                            gb = n_sh * pb // 2
                            reqs.append(b.req(t, a, "rp_shared", j, privs[a], nbytes=gb, passes=frac))
                    else:
                        reqs.append(b.req(t, a, a, p, privs[a], passes=frac if a != "rs" else frac * 1.5))
                b.launch(t, (p,), (P,), reqs, flops=Z * fpz)
        b.launch(gdt, (), (), [b.req(gdt, "dt", "dt", p, RW) for p in range(P)], flops=P)
    return b.build()
