"""Deterministic simulation of a benchmark's task graph under a mapper (list scheduling in issue order).

For every task instance, in program (issue) order, :meth:`_Sim.run` takes these named steps:

1. :meth:`_enter_phase` -- an execution fence before the timed phase when the program has one;
2. :meth:`_processor` -- the mapping function's point (``IndexTaskMap``/``SingleTaskMap``; the first point of
   a set), else Legion's
   default (index points blocked over the chosen kind's processors -- over the parent's node for
   SAME_ADDRESS_SPACE launches --, single tasks on their parent's processor);
3. :meth:`_mapping_time` -- when the task is mapped: at once (Legion maps ahead), after the timing fence,
   or, with ``InstanceLimit T N``, when the N-th previous ``T`` on that processor has finished
   executing (back-pressure: DSLMapper holds tasks back until the OperationStatus profiling response
   of an in-flight one arrives, which Realm sends when its body ends);
4. :meth:`_acquire` -- per region argument: memory (the first kind of the ``Region`` lists the
   processor can address), layout, instance allocation, and a copy from the valid instance that arrives
   first when the chosen memory holds no valid copy; copies queue on FIFO channels;
5. :meth:`_duration` -- launch overhead + max(flops / (peak x efficiency), bytes / bandwidth x layout factor);
6. :meth:`_schedule` -- the earliest idle interval of the processor at or after the data is ready;
7. :meth:`_release` -- validity after the task: writes invalidate other copies, reductions are applied to
   the data's home instance, ``CollectMemory`` frees read-only instances.

Instance lifetimes give each memory's peak; a peak above capacity is an out-of-memory failure naming
the memory and the task whose instance did not fit. All arithmetic is deterministic.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from systems.mapper.apps.base import R, RED, RW, W, App
from systems.mapper.dsl.compiler import Mapper, TaskView
from systems.mapper.dsl.errors import MapperError
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
# layout effects (docs/mapper-model.md, section "Layouts")
SECTOR_BYTES = 32
"""A GPU memory transaction moves a 32-byte sector (CUDA C Programming Guide, global memory access)."""
ELEMENT_BYTES = 8
"""The benchmarks' 2-D arrays hold doubles."""
GPU_WRONG_ORDER = SECTOR_BYTES / ELEMENT_BYTES
"""A warp walking a 2-D array along the instance's slow dimension touches one sector per element: 4x traffic."""
CPU_WRONG_ORDER = 1.0
"""On a CPU a column walk over a tile whose 8 consecutive rows fit in the 256 KB L2 reuses each 64-byte
line before eviction (stencil tile rows are <= 40 KB): no extra memory traffic."""
GPU_AOS = 1.8
"""GPU memory-time factor for array-of-structs on multi-field regions (fields of a warp's elements are
strided, so sectors carry unused fields) [ours, between 1 and the 4x sector bound]."""
CPU_AOS = 0.92
"""CPU/OMP factor for array-of-structs on multi-field regions (one cache line per element) [ours]."""
COMPACT = 1.05
"""Indirection cost of a compacted (``Compact``/``Exact``) sparse instance [ours]."""


def _layout_factor(cons, region, proc_kind: str, library: bool, tname: str, argname: str) -> float:
    f = 1.0
    if cons.align is not None:
        op, v = cons.align
        if op in ("==", ">=", ">") and (v <= 0 or v & (v - 1)):
            raise SimRuntimeError("bad_layout", f"Align {op} {v} for region {argname} of task {tname}: alignment must "
                                  "be a power of two", cons.line or None)
    if region.dims >= 2:
        if cons.order != region.order:
            if library:
                want = "C_order" if region.order == "C" else "F_order"
                got = "C_order" if cons.order == "C" else "F_order"
                raise SimRuntimeError(
                    "stride", f"cuBLAS/BLAS call in task {tname} failed: stride does not match for region {argname} "
                    f"(instance is {got}{'' if cons.line else ', Legion default'}; the library expects {want} "
                    "leading dimensions)", cons.line or None)
            f *= GPU_WRONG_ORDER if proc_kind == "GPU" else CPU_WRONG_ORDER
    if region.fields > 1 and cons.aos:
        f *= GPU_AOS if proc_kind == "GPU" else CPU_AOS
    if cons.compact or cons.exact:
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


class _Channels:
    """Copy channels (NVLink ports, PCIe links, host copy engines, NICs), each a timeline of busy intervals.

    A copy occupies every channel of its path for bytes / bandwidth and may use any interval in which
    all of them are idle (DMA engines serve whichever request is ready; a copy issued later in program
    order can go before one that waits for its data). Latency does not occupy a channel (it overlaps
    with other transfers, as pipelined DMA and network requests do).
    """

    __slots__ = ("starts", "ends", "last")

    def __init__(self):
        self.starts: dict = {}
        self.ends: dict = {}
        self.last = 0.0

    def earliest(self, res, ready: float, occ: float) -> float:
        s = ready
        if occ <= 0:
            return s
        moved = True
        while moved:
            moved = False
            for r in res:
                st = self.starts.get(r)
                if not st:
                    continue
                en = self.ends[r]
                i = bisect.bisect_right(st, s) - 1
                if i >= 0 and en[i] > s:
                    s = en[i]
                    moved = True
                    continue
                j = i + 1
                if j < len(st) and st[j] < s + occ:
                    s = en[j]
                    moved = True
        return s

    def reserve(self, res, start: float, occ: float) -> None:
        if occ <= 0:
            return
        end = start + occ
        for r in res:
            st = self.starts.setdefault(r, [])
            en = self.ends.setdefault(r, [])
            i = bisect.bisect_left(st, start)
            st.insert(i, start)
            en.insert(i, end)
        if end > self.last:
            self.last = end


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
        self.program = mapper.bind(self.layout)
        self.policy = Policy(self.program, app, self.layout)
        lay = self.layout
        self.channels = _Channels()
        self.chan_bytes: dict[str, float] = {}
        self.region_copy: dict[str, float] = {}
        self.events: list[list] = [[] for _ in lay.mems]
        self.inst_bytes: list[dict[int, int]] = [dict() for _ in lay.mems]
        self.map_cache: dict = {}
        self.plans: dict = {}
        self.copies = 0
        self.copy_time = 0.0
        self.pieces = [_Piece() for _ in app.piece_bytes]
        self.proc_free = {p: 0.0 for p in lay.procs}
        self.gaps: dict = {p: [] for p in lay.procs}
        n = len(app.instances)
        self.start_t = [0.0] * n
        self.end_t = [0.0] * n
        self.procs: list = [None] * n
        self.history: dict = {}
        self.top = lay.by_kind["CPU"][0] if lay.by_kind["CPU"] else lay.procs[0]
        self.fence = 0.0
        self.phase = 0
        self.timed_start = None
        self.timed_end = 0.0
        self.busy: dict[str, float] = {}
        self.task_time: dict[str, float] = {}
        self.task_count: dict[str, int] = {}
        m = machine
        self.peak = {"GPU": m.gpu_flops, "CPU": m.cpu_flops, "OMP": m.cpu_flops * m.omp_threads}

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> SimResult:
        for idx, inst in enumerate(self.app.instances):
            self._enter_phase(idx, inst)
            proc = self._processor(idx, inst)
            self.procs[idx] = proc
            map_t = self._mapping_time(idx, inst, proc)
            ready, mem_time, placements = self._acquire(inst, proc, map_t)
            dur = self._duration(inst, proc, mem_time)
            st, end = self._schedule(inst, proc, ready, dur)
            self.start_t[idx], self.end_t[idx] = st, end
            self._account(inst, proc, st, end, dur)
            self._release(inst, placements, end)
        return self._result()

    # -- 1. phases ----------------------------------------------------------------------------
    def _enter_phase(self, idx: int, inst) -> None:
        if inst.phase == 1 and self.phase == 0:
            if self.app.timing == "fence":
                self.fence = max([0.0, self.channels.last] + list(self.proc_free.values()) + self.end_t[:idx])
            self.phase = 1
        elif inst.phase == 2 and self.phase < 2:
            self.phase = 2

    # -- 2. processors ------------------------------------------------------------------------
    def _task_view(self, idx: int, inst, parent_proc: Proc) -> TaskView:
        t = inst.tdef
        if t.index_launch:
            return TaskView(t.name, True, inst.ipoint, inst.ispace)
        pinst = self.app.instances[inst.parent] if inst.parent >= 0 else None
        pname = pinst.tdef.name if pinst is not None else "top_level"
        coords = (parent_proc.node, parent_proc.local)
        parent = TaskView(pname, False, proc=coords)
        return TaskView(t.name, False, parent=parent, proc=coords)

    def _processor(self, idx: int, inst) -> Proc:
        t = inst.tdef
        pol = self.policy
        kind = pol.kind[t.name]
        parent_proc = self.procs[inst.parent] if inst.parent >= 0 else self.top
        fn = pol.map_func[t.name]
        if fn is not None:
            # a mapping function sees only the point, the launch domain and (single tasks) the parent's processor
            key = (fn.name, inst.ipoint, inst.ispace) if t.index_launch else (fn.name, parent_proc)
            pts = self.map_cache.get(key)
            if pts is None:
                pts = self.program.map_task(fn, self._task_view(idx, inst, parent_proc), kind, t.variants)
                self.map_cache[key] = pts
            # a set (m[0, *]) becomes Legion's target_procs; DSLMapper picks the instances' memories for
            # target_procs[0] (dsl_mapper.cc map_task), so the task runs there
            node, p = pts[0]
            if inst.parent >= 0 and (t.local or not t.index_launch) and node != parent_proc.node:
                # only sharded launches (a replicated parent's index launches) choose their node; a subtask
                # or a SAME_ADDRESS_SPACE launch runs on its parent's node: dsl_mapper.cc asserts
                # task.target_proc.address_space() == node_idx
                from systems.mapper.dsl.errors import MappingError

                raise MappingError("not_a_processor", f"assertion task.target_proc.address_space() == node_idx "
                                   f"failed: mapping function {fn.name} put {t.name} (launched by "
                                   f"{self.app.instances[inst.parent].tdef.name} on rank {parent_proc.node}) on rank "
                                   f"{node}; subtasks and SAME_ADDRESS_SPACE launches stay on their parent's rank",
                                   fn.line, fn.column)
            return self.layout.by_kind[kind][node * self.machine.count(kind) + p]
        procs = self.layout.by_kind[kind]
        if t.index_launch and inst.ispace:
            n, lin = 1, 0
            for c, s in zip(inst.ipoint, inst.ispace):
                lin = lin * s + c
                n *= s
            if t.local:  # SAME_ADDRESS_SPACE: sliced over the parent's node
                per = self.machine.count(kind)
                node = parent_proc.node
                return procs[node * per + lin * per // n]
            return procs[lin * len(procs) // n]
        if parent_proc.kind == kind:
            return parent_proc
        return procs[parent_proc.node * self.machine.count(kind)]

    # -- 3. mapping time ----------------------------------------------------------------------
    def _mapping_time(self, idx: int, inst, proc: Proc) -> float:
        map_t = self.fence if inst.phase >= 1 else 0.0
        lim = self.policy.limit[inst.tdef.name]
        if lim > 0:
            hist = self.history.setdefault((inst.tdef.name, proc), [])
            if len(hist) >= lim:
                prev = self.end_t[hist[-lim]]
                if prev > map_t:
                    map_t = prev
            hist.append(idx)
        if inst.parent >= 0:
            p = inst.parent
            pt = self.start_t[p] + self.machine.task_overhead.get(self.procs[p].kind, 0.0)
            if pt > map_t:
                map_t = pt
        return map_t

    # -- 4. data ------------------------------------------------------------------------------
    def _memory(self, t, rq, proc: Proc) -> int:
        lay = self.layout
        for mk in self.policy.memory_kinds(t, rq.arg, proc.kind, rq.names):
            if mk == "VIRTUAL":
                raise SimRuntimeError("bad_memory", f"task {t.name} is a leaf task: region {t.regions[rq.arg]} needs a "
                                      "physical instance, but the Region rule maps it VIRTUAL")
            mem = lay.best_memory(proc, mk)
            if mem is not None:
                return mem
        return lay.default_memory(proc)

    def _plan(self, t, rq, proc: Proc):
        """(memory, time per byte moved, compact) of region argument ``rq`` of ``t`` on ``proc`` (cached)."""
        region_name = self.app.piece_region[rq.piece]
        key = (t.name, rq.arg, rq.names, proc, region_name, rq.priv == RED)
        plan = self.plans.get(key)
        if plan is None:
            lay = self.layout
            mem = self._memory(t, rq, proc)
            memo = lay.mems[mem]
            cons = self.policy.layout_of(t, rq.arg, memo.kind, rq.names)
            if cons.compact and rq.priv == RED:
                raise SimRuntimeError("bad_layout", f"Compact layout for the reduction on region {t.regions[rq.arg]} of "
                                      f"task {t.name} (the real mapper asserts req.privilege != LEGION_REDUCE)",
                                      cons.line or None)
            fac = _layout_factor(cons, self.app.regions[region_name], proc.kind, t.library, t.name, t.regions[rq.arg])
            bw = lay.access_bw(proc, memo)
            if bw <= 0:
                raise SimRuntimeError("bad_memory", f"{proc.label} cannot address {memo.label}")
            plan = (mem, fac / bw, cons.compact or cons.exact)
            self.plans[key] = plan
        return plan

    def _acquire(self, inst, proc: Proc, map_t: float):
        t = inst.tdef
        ready = map_t
        mem_time = 0.0
        placements = []
        pieces = self.pieces
        for rq in inst.reqs:
            mem, sec_per_byte, compact = self._plan(t, rq, proc)
            inst_bytes = rq.nbytes if compact else rq.bbox
            pc = pieces[rq.piece]
            self._alloc(mem, rq.piece, inst_bytes, map_t, t.name)
            r_t = self._data_ready(rq, pc, mem, inst_bytes, map_t)
            if r_t > ready:
                ready = r_t
            mem_time += rq.touched * sec_per_byte
            placements.append((rq, mem, pc))
        return ready, mem_time, placements

    def _data_ready(self, rq, pc: _Piece, mem: int, inst_bytes: int, map_t: float) -> float:
        """When the data ``rq`` needs is in ``mem`` (issuing the copy if it is not)."""
        if rq.priv == W:
            return max(pc.wready, pc.rdone)
        if rq.priv == RED:  # fills its own reduction instance; waits only for the last plain write
            return pc.base
        have = pc.valid.get(mem)
        if have is not None and have[0] >= rq.nbytes:
            r_t = max(pc.wready, have[1])
        elif pc.fill:
            # never written: the initial value is a (lazy) fill, materialised wherever it is read
            r_t = pc.wready
            pc.valid[mem] = [max(rq.nbytes, inst_bytes, pc.valid.get(mem, [0])[0]), 0.0]
            if pc.home < 0:
                pc.home = mem
        else:
            best = None
            for src, (vb, avail) in pc.valid.items():
                if vb < rq.nbytes:
                    continue
                _, e = self._copy(src, mem, rq.nbytes, max(avail, pc.wready, map_t), rq.piece, commit=False)
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
        return r_t

    # -- 5/6. duration and start --------------------------------------------------------------
    def _duration(self, inst, proc: Proc, mem_time: float) -> float:
        t = inst.tdef
        eff = t.efficiency.get(proc.kind, 0.5)
        comp = inst.flops / (self.peak[proc.kind] * eff) if inst.flops else 0.0
        return self.machine.task_overhead.get(proc.kind, 0.0) + max(comp, mem_time)

    def _schedule(self, inst, proc: Proc, ready: float, dur: float) -> tuple[float, float]:
        if not (inst.reqs or inst.flops):  # a pure launcher (inner task): returns at once, does not queue
            return ready, ready + dur
        free = self.proc_free[proc]
        st = _place(self.gaps[proc], free, ready, dur)
        end = st + dur
        if st >= free:
            if st - free > MIN_GAP:
                gl = self.gaps[proc]
                gl.append([free, st])
                if len(gl) > MAX_GAPS:  # the oldest idle intervals rarely fit later tasks
                    del gl[0]
            self.proc_free[proc] = end
        return st, end

    def _account(self, inst, proc: Proc, st: float, end: float, dur: float) -> None:
        if inst.phase != 1:
            return
        name = inst.tdef.name
        if self.timed_start is None or st < self.timed_start:
            self.timed_start = st
        if end > self.timed_end:
            self.timed_end = end
        self.busy[proc.kind] = self.busy.get(proc.kind, 0.0) + dur
        self.task_time[name] = self.task_time.get(name, 0.0) + dur
        self.task_count[name] = self.task_count.get(name, 0) + 1

    # -- 7. after the task --------------------------------------------------------------------
    def _release(self, inst, placements, end: float) -> None:
        app, pol = self.app, self.policy
        t = inst.tdef
        for rq, mem, pc in placements:
            if rq.priv == R:
                if end > pc.rdone:
                    pc.rdone = end
                if (pol.collects(t, rq.arg, rq.names) and mem in pc.valid
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
            else:
                self._apply_reduction(rq, mem, pc, end)

    def _apply_reduction(self, rq, mem: int, pc: _Piece, end: float) -> None:
        """A reduction instance is folded into the data's home instance (a copy when the home is elsewhere)."""
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
        pc.valid[home] = [max(self.app.piece_bytes[rq.piece], pc.valid.get(home, [0])[0]), a_end]
        pc.home = home
        pc.fill = False
        if a_end > pc.wready:
            pc.wready = a_end

    # -- copies -------------------------------------------------------------------------------
    def _path(self, src: int, dst: int):
        ms, md = self.layout.mems[src], self.layout.mems[dst]
        m = self.machine
        if ms.node == md.node or m.same_host(ms.node, md.node):
            host = ms.node // m.ranks_per_node
            lat = m.intra_latency
            if ms.kind == "FBMEM" and md.kind == "FBMEM":
                return m.nvlink_bw, lat, (("gout", ms.node, ms.local), ("gin", md.node, md.local))
            if ms.kind == "FBMEM":
                return m.host_link_bw, lat, (("d2h", ms.node, ms.local),)
            if md.kind == "FBMEM":
                return m.host_link_bw, lat, (("h2d", md.node, md.local),)
            return m.host_copy_bw, lat, (("hcpy", host),)
        hs, hd = ms.node // m.ranks_per_node, md.node // m.ranks_per_node
        res = [("nic_out", hs), ("nic_in", hd)]
        bw = m.nic_bw
        if ms.kind == "FBMEM":
            res.append(("d2h", ms.node, ms.local))
            bw = min(bw, m.host_link_bw)
        if md.kind == "FBMEM":
            res.append(("h2d", md.node, md.local))
            bw = min(bw, m.host_link_bw)
        return bw, m.inter_latency, tuple(res)

    def _copy(self, src: int, dst: int, nbytes: float, ready: float, piece: int, commit: bool = True):
        bw, lat, res = self._path(src, dst)
        occ = nbytes / bw
        start = self.channels.earliest(res, ready, occ)
        end = start + lat + occ
        if commit:
            self.channels.reserve(res, start, occ)
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
        cur = self.inst_bytes[mem].get(piece, 0)
        if nbytes > cur:
            self.inst_bytes[mem][piece] = nbytes
            self.events[mem].append((t, nbytes - cur, tname, piece))

    def _free(self, mem: int, piece: int, t: float):
        cur = self.inst_bytes[mem].pop(piece, 0)
        if cur:
            self.events[mem].append((t, -cur, "", piece))

    # -- result -------------------------------------------------------------------------------
    def _result(self) -> SimResult:
        if self.timed_start is None:  # no timed phase: the whole run
            self.timed_start = 0.0
            self.timed_end = max(self.end_t) if self.end_t else 0.0
        start = self.fence if self.app.timing == "fence" else self.timed_start
        makespan = self.timed_end - start
        self._check_memory()
        return SimResult(makespan, self._profile(makespan))

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

    def _profile(self, makespan: float) -> dict:
        lay = self.layout
        span = max(makespan, 1e-12)
        frac = {}
        for k in ("GPU", "CPU", "OMP"):
            n = len(lay.by_kind[k])
            if n:
                frac[k] = round(self.busy.get(k, 0.0) / (n * span), 4)
        peaks = {lay.mems[i].label: int(pk) for i, (pk, _) in enumerate(self.peaks) if pk > 0}
        hot = sorted(self.region_copy.items(), key=lambda x: -x[1])[:5]
        return {
            "task_time_s": {k: round(v, 9) for k, v in sorted(self.task_time.items(), key=lambda x: -x[1])},
            "task_count": self.task_count,
            "copy_bytes": {k: int(v) for k, v in sorted(self.chan_bytes.items(), key=lambda x: -x[1])},
            "copies": self.copies,
            "copy_time_s": round(self.copy_time, 9),
            "peak_bytes": peaks,
            "busy_fraction": frac,
            "top_copy_regions": [{"region": r, "bytes": int(b)} for r, b in hot],
            "processor_kind_of_task": dict(self.policy.kind),
            "warnings": list(self.policy.warnings),
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
