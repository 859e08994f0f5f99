"""Deterministic simulation of an app's task graph under a mapper (list scheduling in issue order).

For every task instance, in program order (as Legion issues them):

1. processor: the mapping function's point (``IndexTaskMap``/``SingleTaskMap``), else Legion's
   default (index points blocked over the processors of the chosen kind, single tasks on their
   parent's processor); the kind comes from the ``Task`` priority list with fallback over kinds
   that have a variant;
2. memory per region argument: the first kind of the ``Region`` chain that the processor can
   address, taking the memory of that kind with the best bandwidth to it; else the default memory;
3. data: when no valid instance is in that memory, a copy from the valid instance that arrives first,
   over the modelled channels (NVLink, PCIe, host copy, network), each a FIFO resource;
4. start = max(processor free, data ready, mapping time); mapping time is held back by
   ``InstanceLimit`` (at most N instances of the task in flight per processor);
5. duration = launch overhead + max(flops / (peak x efficiency), bytes moved / bandwidth x layout factor);
6. after it: readers/writers update validity, reductions are applied to the home instance (a copy
   when the home is elsewhere), ``CollectMemory`` frees read-only instances, stale instances are freed.

Instance lifetimes give the peak bytes of every memory; a peak above capacity is an out-of-memory
failure naming the memory and the task whose instance did not fit. All arithmetic is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from systems.mapper.apps.base import R, RED, RW, W, App
from systems.mapper.dsl.compiler import Mapper, ProcSet, TaskView
from systems.mapper.dsl.errors import MapperError, MappingError
from systems.mapper.machine import Machine, MachineLayout, Proc
from systems.mapper.sim.policy import Policy


class SimRuntimeError(MapperError):
    """A failure while running the program under the mapper (OOM, stride mismatch, bad memory)."""


@dataclass
class SimResult:
    """Outcome of one simulation."""

    time_s: float
    """Makespan of the timed phase (simulated seconds)."""
    profile: dict = field(default_factory=dict)
    """Per-task time, per-channel copy bytes, peak bytes per memory, busy fraction per kind, hot regions."""


# ---------------------------------------------------------------------------------------------
# layout effects
GPU_WRONG_ORDER = 2.5
"""Kernel memory-time factor on a GPU when a 2-D region's instance is in the other dimension order."""
CPU_WRONG_ORDER = 1.6
"""Same on CPU/OMP (cache-line waste, no prefetch)."""
GPU_AOS = 1.8
"""GPU memory-time factor for array-of-structs on multi-field regions (uncoalesced loads)."""
CPU_AOS = 0.92
"""CPU/OMP factor for array-of-structs on multi-field regions (one cache line per element)."""
COMPACT = 1.05
"""Indirection cost of a compacted (``Compact``/``Exact``) sparse instance."""


def _layout_factor(cons: dict, region, proc_kind: str, library: bool, tname: str, argname: str) -> float:
    f = 1.0
    align = cons.get("align")
    if align is not None:
        op, v = align
        if op in ("==", ">=", ">") and (v <= 0 or v & (v - 1)):
            raise SimRuntimeError("bad_layout", f"Align {op} {v} for region {argname} of task {tname}: alignment must "
                                  "be a power of two", cons.get("_line"))
    if region.dims >= 2:
        want = "C_order" if region.order == "C" else "F_order"
        if cons.get("order", "F_order") != want:
            if library:
                raise SimRuntimeError(
                    "stride", f"cuBLAS/BLAS call in task {tname} failed: stride does not match for region {argname} "
                    f"(instance is {cons.get('order', 'F_order')}; the library expects {want} leading dimensions)",
                    cons.get("_line"))
            f *= GPU_WRONG_ORDER if proc_kind == "GPU" else CPU_WRONG_ORDER
    if region.fields > 1 and cons.get("fields") == "AOS":
        f *= GPU_AOS if proc_kind == "GPU" else CPU_AOS
    if cons.get("compact") or cons.get("exact"):
        f *= COMPACT
    return f


MIN_GAP = 1e-6
"""Idle intervals shorter than this are not kept for later tasks."""
MAX_GAPS = 24
"""Idle intervals remembered per processor (bounds the cost of the search)."""


def _place(gaps: list, tail: float, ready: float, dur: float) -> float:
    """Start time of a task of length ``dur`` ready at ``ready`` on a processor busy until ``tail``.

    A processor runs whichever mapped task is ready (Realm does not wait for issue order), so a task
    may start in an idle interval left before already placed ones when it fits; ``gaps`` is updated.
    """
    for i, (g0, g1) in enumerate(gaps):
        st = g0 if g0 > ready else ready
        if st + dur <= g1:
            new = []
            if st - g0 > MIN_GAP:
                new.append([g0, st])
            if g1 - (st + dur) > MIN_GAP:
                new.append([st + dur, g1])
            gaps[i:i + 1] = new
            return st
    return tail if tail > ready else ready


class _Piece:
    __slots__ = ("valid", "wready", "base", "rdone", "home", "fill")

    def __init__(self):
        self.valid: dict[int, list] = {}   # mem -> [bytes, available time]
        self.wready = 0.0                   # the current value is complete (writes and reductions)
        self.base = 0.0                     # last non-reduction write complete
        self.rdone = 0.0                    # last read of the current value complete
        self.home = -1                      # memory of the last full write (reductions go there)
        self.fill = True                    # never written yet: the initial value is a lazy fill


class _Sim:
    def __init__(self, app: App, mapper: Mapper, machine: Machine):
        self.app = app
        self.machine = machine
        self.layout = MachineLayout(machine)
        mapper.bind(self.layout)
        self.mapper = mapper
        self.policy = Policy(mapper, app, self.layout)
        self.res_free: dict = {}
        self.chan_bytes: dict[str, float] = {}
        self.region_copy: dict[str, float] = {}
        self.inst: list[dict[int, int]] = [dict() for _ in self.layout.mems]
        self.events: list[list] = [[] for _ in self.layout.mems]
        self.map_cache: dict = {}
        self.rr: dict = {}
        self.copies = 0
        self.copy_time = 0.0
        self.phase = 0

    # -- processors ---------------------------------------------------------------------------
    def _pick_proc(self, inst, idx: int, parent_proc: Proc) -> Proc:
        t = inst.tdef
        pol = self.policy
        rule = pol.map_rule[t.name]
        kind = pol.kind[t.name]
        if rule is not None:
            fname = rule.args["func"]
            key = (fname, t.name, inst.ipoint, inst.ispace, parent_proc)
            val = self.map_cache.get(key)
            if val is None:
                view = TaskView(t.name, inst.ipoint, inst.ispace, parent_proc)
                try:
                    val = self.mapper.call(fname, [view], rule.line, rule.column)
                except MappingError:
                    raise
                self.map_cache[key] = val
            if isinstance(val, ProcSet):
                if not val:
                    raise MappingError("not_a_processor", f"mapping function {fname} returned an empty set for task "
                                       f"{t.name}", rule.line, rule.column)
                c = self.rr.get((fname, val), 0)
                self.rr[(fname, val)] = c + 1
                val = val[c % len(val)]
            if not isinstance(val, Proc):
                got = type(val).__name__ if not isinstance(val, tuple) else f"tuple {val}"
                raise MappingError("not_a_processor", f"Must return TupleIntType or SetTupleIntType after invoking "
                                   f"mapping function {fname} for task {t.name} point {inst.ipoint}: it returned "
                                   f"{got}, not a processor of a machine space (index a Machine(...) space)",
                                   rule.line, rule.column)
            if val.kind not in t.variants:
                raise MappingError("no_variant", f"Invalid policy: task {t.name} requested {val.kind}, but has no valid "
                                   f"task variant for the kind (variants: {', '.join(sorted(t.variants))}); mapping "
                                   f"function {fname} returned {val.label}", rule.line, rule.column)
            return val
        procs = self.layout.by_kind[kind]
        if t.index_launch and inst.ispace:
            n, lin = 1, 0
            for c, s in zip(inst.ipoint, inst.ispace):
                lin = lin * s + c
                n *= s
            return procs[lin * len(procs) // n]
        if parent_proc.kind == kind:
            return parent_proc
        per = self.machine.count(kind)
        return procs[parent_proc.node * per]

    # -- copies -------------------------------------------------------------------------------
    def _path(self, src: int, dst: int):
        ms, md = self.layout.mems[src], self.layout.mems[dst]
        m = self.machine
        if ms.node == md.node:
            n = ms.node
            if ms.kind == "FBMEM" and md.kind == "FBMEM":
                return m.nvlink_bw, m.intra_latency, (("gout", n, ms.local), ("gin", n, md.local))
            if ms.kind == "FBMEM":
                return m.pcie_bw, m.intra_latency, (("d2h", n, ms.local),)
            if md.kind == "FBMEM":
                return m.pcie_bw, m.intra_latency, (("h2d", n, md.local),)
            return m.host_copy_bw, m.intra_latency, (("hcpy", n),)
        res = [("nic_out", ms.node), ("nic_in", md.node)]
        bw = m.nic_bw
        if ms.kind == "FBMEM":
            res.append(("d2h", ms.node, ms.local))
            bw = min(bw, m.pcie_bw)
        if md.kind == "FBMEM":
            res.append(("h2d", md.node, md.local))
            bw = min(bw, m.pcie_bw)
        return bw, m.inter_latency, tuple(res)

    def _copy(self, src: int, dst: int, nbytes: float, ready: float, piece: int, commit: bool = True):
        bw, lat, res = self._path(src, dst)
        start = ready
        for r in res:
            f = self.res_free.get(r, 0.0)
            if f > start:
                start = f
        end = start + lat + nbytes / bw
        if commit:
            for r in res:
                self.res_free[r] = end
        if commit and self.phase == 1:  # the profile describes the timed phase
            ms, md = self.layout.mems[src], self.layout.mems[dst]
            label = f"node{ms.node}.{ms.short_kind}->node{md.node}.{md.short_kind}"
            self.chan_bytes[label] = self.chan_bytes.get(label, 0.0) + nbytes
            rname = self.app.piece_region[piece]
            self.region_copy[rname] = self.region_copy.get(rname, 0.0) + nbytes
            self.copies += 1
            self.copy_time += end - start
        return start, end

    # -- instances ----------------------------------------------------------------------------
    def _alloc(self, mem: int, piece: int, nbytes: int, t: float, tname: str):
        cur = self.inst[mem].get(piece, 0)
        if nbytes > cur:
            self.inst[mem][piece] = nbytes
            self.events[mem].append((t, nbytes - cur, tname, piece))

    def _free(self, mem: int, piece: int, t: float):
        cur = self.inst[mem].pop(piece, 0)
        if cur:
            self.events[mem].append((t, -cur, "", piece))

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> SimResult:
        app, lay, m, pol = self.app, self.layout, self.machine, self.policy
        pieces = [_Piece() for _ in app.piece_bytes]
        proc_free = {p: 0.0 for p in lay.procs}
        gaps: dict = {p: [] for p in lay.procs}  # idle intervals before proc_free, earliest first
        busy: dict[str, float] = {}
        task_time: dict[str, float] = {}
        n = len(app.instances)
        start_t = [0.0] * n
        done_t = [0.0] * n          # completion including children (for InstanceLimit)
        procs = [None] * n
        history: dict = {}
        top = lay.by_kind["CPU"][0] if lay.by_kind["CPU"] else lay.procs[0]
        fence = 0.0
        phase = 0
        timed_end = 0.0
        have_timed = False
        ovh = m.task_overhead
        peak = {"GPU": m.gpu_flops, "CPU": m.cpu_flops, "OMP": m.cpu_flops * m.omp_threads}
        regions = app.regions
        tnames = {}
        for idx, inst in enumerate(app.instances):
            t = inst.tdef
            if inst.phase == 1 and phase == 0:
                fence = max([0.0] + list(proc_free.values()) + list(self.res_free.values()) + done_t[:idx])
                phase = 1
            elif inst.phase == 2 and phase < 2:
                phase = 2
            self.phase = inst.phase
            parent_proc = procs[inst.parent] if inst.parent >= 0 else top
            proc = self._pick_proc(inst, idx, parent_proc)
            procs[idx] = proc
            # mapping time (InstanceLimit back-pressure)
            map_t = fence if inst.phase >= 1 else 0.0
            lim = pol.limit[t.name]
            if lim is not None:
                hk = (t.name, proc)
                hist = history.setdefault(hk, [])
                if len(hist) >= lim[0]:
                    map_t = max(map_t, done_t[hist[-lim[0]]])
                hist.append(idx)
            if inst.parent >= 0:
                map_t = max(map_t, start_t[inst.parent] + ovh.get(procs[inst.parent].kind, 0.0))
            ready = map_t
            mem_time = 0.0
            placements = []
            for rq in inst.reqs:
                mk_chain = pol.memory_kinds(t, rq.arg, proc.kind)
                mem = None
                if mk_chain is not None:
                    for mk in mk_chain:
                        if mk == "VIRTUAL":
                            raise SimRuntimeError("bad_memory", f"task {t.name} is a leaf task: region "
                                                  f"{t.regions[rq.arg]} needs a physical instance, not VIRTUAL")
                        mem = lay.best_memory(proc, mk)
                        if mem is not None:
                            break
                if mem is None:
                    mem = lay.default_memory(proc)
                memo = lay.mems[mem]
                cons = pol.layout_of(t, rq.arg, memo.kind)
                region = regions[app.piece_region[rq.piece]]
                fac = _layout_factor(cons, region, proc.kind, t.library, t.name, t.regions[rq.arg])
                inst_bytes = rq.nbytes if (cons.get("compact") or cons.get("exact")) else rq.bbox
                pc = pieces[rq.piece]
                self._alloc(mem, rq.piece, inst_bytes, map_t, t.name)
                if rq.priv == R or rq.priv == RW:
                    have = pc.valid.get(mem)
                    if have is not None and have[0] >= rq.nbytes:
                        r_t = max(pc.wready, have[1])
                    elif pc.fill:
                        # never written: initial data is a (lazy) fill, materialised wherever it is read
                        r_t = pc.wready
                        pc.valid[mem] = [max(rq.nbytes, inst_bytes, pc.valid.get(mem, [0])[0]), 0.0]
                        if pc.home < 0:
                            pc.home = mem
                    else:
                        best = None
                        for src, (vb, avail) in pc.valid.items():
                            if vb < rq.nbytes:
                                continue
                            s, e = self._copy(src, mem, rq.nbytes, max(avail, pc.wready, map_t), rq.piece, commit=False)
                            if best is None or e < best[1] or (e == best[1] and src < best[0]):
                                best = (src, e)
                        if best is None:  # no instance holds enough: take it from the home instance
                            src = pc.home if pc.home in pc.valid else min(pc.valid)
                            best = (src, 0.0)
                        _, e = self._copy(best[0], mem, rq.nbytes, max(pc.valid[best[0]][1], pc.wready, map_t), rq.piece)
                        pc.valid[mem] = [max(rq.nbytes, pc.valid.get(mem, [0])[0]), e]
                        r_t = e
                    if rq.priv == RW:
                        r_t = max(r_t, pc.rdone)
                elif rq.priv == W:
                    r_t = max(pc.wready, pc.rdone)
                else:  # RED: fills its own reduction instance; waits only for the last plain write
                    r_t = pc.base
                if r_t > ready:
                    ready = r_t
                bw = lay.access_bw(proc, memo)
                if bw <= 0:
                    raise SimRuntimeError("bad_memory", f"{proc.label} cannot address {memo.label}")
                mem_time += rq.touched * fac / bw
                placements.append((rq, mem, pc))
            eff = t.efficiency.get(proc.kind, 0.5)
            comp = inst.flops / (peak[proc.kind] * eff) if inst.flops else 0.0
            dur = ovh.get(proc.kind, 0.0) + max(comp, mem_time)
            if inst.reqs or inst.flops:
                st = _place(gaps[proc], proc_free[proc], ready, dur)
                end = st + dur
                if st >= proc_free[proc]:
                    if st - proc_free[proc] > MIN_GAP:
                        gl = gaps[proc]
                        gl.append([proc_free[proc], st])
                        if len(gl) > MAX_GAPS:  # the oldest idle intervals rarely fit later tasks
                            del gl[0]
                    proc_free[proc] = end
            else:  # a pure launcher (inner task): its body returns at once, it does not queue behind kernels
                st = ready
                end = st + dur
            start_t[idx] = st
            done_t[idx] = end
            p = inst.parent
            while p >= 0:  # a parent completes when its children do
                if done_t[p] < end:
                    done_t[p] = end
                p = app.instances[p].parent
            if inst.phase == 1:
                have_timed = True
                if end > timed_end:
                    timed_end = end
                busy[proc.kind] = busy.get(proc.kind, 0.0) + dur
                task_time[t.name] = task_time.get(t.name, 0.0) + dur
                tnames[t.name] = tnames.get(t.name, 0) + 1
            for rq, mem, pc in placements:
                if rq.priv == R:
                    if end > pc.rdone:
                        pc.rdone = end
                    if (pol.collects(t, rq.arg) and mem in pc.valid
                            and any(o != mem and v[0] >= app.piece_bytes[rq.piece] for o, v in pc.valid.items())):
                        del pc.valid[mem]
                        self._free(mem, rq.piece, end)
                        if pc.home == mem:
                            pc.home = next(iter(pc.valid))
                elif rq.priv == W or rq.priv == RW:
                    for other in list(pc.valid):
                        if other != mem:
                            del pc.valid[other]
                            self._free(other, rq.piece, end)
                    pc.valid = {mem: [max(rq.nbytes, app.piece_bytes[rq.piece]), end]}
                    pc.wready = pc.base = pc.rdone = end
                    pc.home = mem
                    pc.fill = False
                else:  # reduction: apply to the home instance
                    home = pc.home if pc.home >= 0 else mem
                    ready_apply = max(end, pc.rdone)  # applying waits for readers of the old value
                    if home == mem:
                        a_end = ready_apply
                    else:
                        _, a_end = self._copy(mem, home, rq.nbytes, ready_apply, rq.piece)
                        self._free(mem, rq.piece, a_end)
                    for other in list(pc.valid):
                        if other != home:
                            del pc.valid[other]
                            if other != mem:
                                self._free(other, rq.piece, a_end)
                    pc.valid[home] = [max(app.piece_bytes[rq.piece], pc.valid.get(home, [0])[0]), a_end]
                    pc.home = home
                    pc.fill = False
                    if a_end > pc.wready:
                        pc.wready = a_end
        if not have_timed:
            timed_end = max(done_t) if done_t else 0.0
        makespan = timed_end - fence
        self._check_memory()
        return SimResult(makespan, self._profile(makespan, busy, task_time, tnames))

    def _peaks(self):
        out = []
        for mid, ev in enumerate(self.events):
            cur = best = 0
            culprit = None
            for t, d, tname, piece in sorted(ev, key=lambda e: (e[0], e[1])):
                cur += d
                if cur > best:
                    best = cur
                    if cur > self.layout.mems[mid].capacity and culprit is None:
                        culprit = (tname, piece, t)
            out.append((best, culprit))
        return out

    def _check_memory(self):
        self.peaks = self._peaks()
        worst = None
        for mid, (pk, culprit) in enumerate(self.peaks):
            cap = self.layout.mems[mid].capacity
            if pk > cap and (worst is None or pk / cap > worst[0]):
                worst = (pk / cap, mid, pk, culprit)
        if worst is None:
            return
        _, mid, pk, (tname, piece, _t) = worst
        mem = self.layout.mems[mid]
        by_region: dict[str, int] = {}
        for ev in self.events[mid]:
            if ev[1] > 0:
                r = self.app.piece_region[ev[3]]
                by_region[r] = by_region.get(r, 0) + ev[1]
        top = ", ".join(f"{r} {b / 1e9:.2f} GB" for r, b in sorted(by_region.items(), key=lambda x: -x[1])[:3])
        raise SimRuntimeError(
            "oom", f"Out of memory: failed to allocate an instance of region {self.app.piece_region[piece]} for task "
            f"{tname} in {mem.label} ({mem.kind}, capacity {mem.capacity / 1e9:.2f} GB): peak demand "
            f"{pk / 1e9:.2f} GB (instances allocated there: {top})")

    def _profile(self, makespan: float, busy, task_time, tnames) -> dict:
        lay = self.layout
        span = max(makespan, 1e-12)
        frac = {}
        for k in ("GPU", "CPU", "OMP"):
            n = len(lay.by_kind[k])
            if n:
                frac[k] = round(busy.get(k, 0.0) / (n * span), 4)
        peaks = {lay.mems[i].label: int(pk) for i, (pk, _) in enumerate(self.peaks) if pk > 0}
        hot = sorted(self.region_copy.items(), key=lambda x: -x[1])[:5]
        return {
            "task_time_s": {k: round(v, 9) for k, v in sorted(task_time.items(), key=lambda x: -x[1])},
            "task_count": tnames,
            "copy_bytes": {k: int(v) for k, v in sorted(self.chan_bytes.items(), key=lambda x: -x[1])},
            "copies": self.copies,
            "copy_time_s": round(self.copy_time, 9),
            "peak_bytes": peaks,
            "busy_fraction": frac,
            "top_copy_regions": [{"region": r, "bytes": int(b)} for r, b in hot],
            "processor_kind_of_task": dict(self.policy.kind),
        }


def simulate(app: App, mapper: Mapper, machine: Machine) -> SimResult:
    """Run ``app`` under compiled ``mapper`` on ``machine``; raises located mapper errors on failure."""
    return _Sim(app, mapper, machine).run()


_LB_CACHE: dict = {}


def _work_bound(groups: dict[tuple, int], nprocs: list[int]) -> float:
    """Smallest T such that the timed tasks, split fractionally over kinds, fit in n_k x T per kind (an LP)."""
    if not groups:
        return 0.0
    import numpy as np
    from scipy.optimize import linprog

    glist = list(groups.items())
    K = len(nprocs)
    var = [(g, k) for g, (durs, _) in enumerate(glist) for k in range(K) if durs[k] is not None]
    nv = len(var) + 1  # last variable: T
    c = np.zeros(nv)
    c[-1] = 1.0
    a_eq = np.zeros((len(glist), nv))
    b_eq = np.array([float(cnt) for _, cnt in glist])
    a_ub = np.zeros((K, nv))
    for j, (g, k) in enumerate(var):
        a_eq[g, j] = 1.0
        a_ub[k, j] = glist[g][0][k]
    a_ub[:, -1] = -np.array(nprocs, dtype=float)
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(K), A_eq=a_eq, b_eq=b_eq, bounds=[(0, None)] * nv, method="highs")
    if not res.success:  # fall back to every task at its fastest kind over all processors
        return sum(min(d for d in durs if d is not None) * cnt for durs, cnt in glist) / max(1, sum(nprocs))
    return float(res.x[-1]) * (1 - 1e-9)


def lower_bound(app: App, machine: Machine) -> dict:
    """A physical lower bound of the timed phase under the model, whatever the mapping.

    ``critical_path``: the longest dependence chain with every task at its fastest variant reading
    its fastest memory and no copies; ``work``: all timed work at its fastest variant spread over
    every processor of the machine. The bound is the larger of the two.
    """
    import dataclasses

    key = (id(app), tuple(sorted((k, str(v)) for k, v in dataclasses.asdict(machine).items())))
    if key in _LB_CACHE:
        return _LB_CACHE[key]
    m = machine
    peak = {"GPU": m.gpu_flops, "CPU": m.cpu_flops, "OMP": m.cpu_flops * m.omp_threads}
    bw = {"GPU": m.fb_bw, "CPU": m.sys_core_bw * m.sock_bonus, "OMP": m.sys_omp_bw * m.sock_bonus}
    wend = [0.0] * len(app.piece_bytes)
    base = [0.0] * len(app.piece_bytes)
    rend = [0.0] * len(app.piece_bytes)
    starts = [0.0] * len(app.instances)
    cp = 0.0
    groups: dict[tuple, int] = {}
    kinds = [k for k in ("GPU", "CPU", "OMP") if m.count(k) > 0]
    for idx, inst in enumerate(app.instances):
        t = inst.tdef
        best = None
        dk = []
        for k in kinds:
            if k not in t.variants:
                dk.append(None)
                continue
            d = m.task_overhead.get(k, 0.0) + max(inst.flops / (peak[k] * t.efficiency.get(k, 0.5)) if inst.flops else 0.0,
                                                   sum(rq.touched for rq in inst.reqs) / bw[k])
            dk.append(d)
            best = d if best is None else min(best, d)
        best = best or 0.0
        if inst.phase != 1:
            continue
        key_d = tuple(None if d is None else round(d, 12) for d in dk)
        groups[key_d] = groups.get(key_d, 0) + 1
        est = starts[inst.parent] if inst.parent >= 0 else 0.0
        for rq in inst.reqs:
            if rq.priv == R:
                e = wend[rq.piece]
            elif rq.priv == RED:
                e = base[rq.piece]
            else:
                e = max(wend[rq.piece], rend[rq.piece])
            if e > est:
                est = e
        end = est + best
        starts[idx] = est
        for rq in inst.reqs:
            if rq.priv == R:
                rend[rq.piece] = max(rend[rq.piece], end)
            elif rq.priv == RED:
                wend[rq.piece] = max(wend[rq.piece], end, rend[rq.piece])
            else:
                wend[rq.piece] = base[rq.piece] = rend[rq.piece] = end
        cp = max(cp, end)
    work = _work_bound(groups, [m.nodes * m.count(k) for k in kinds])
    out = {"lower_bound_s": max(cp, work), "critical_path_s": cp, "work_bound_s": work}
    if len(_LB_CACHE) > 256:
        _LB_CACHE.clear()
    _LB_CACHE[key] = out
    return out
