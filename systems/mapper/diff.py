"""What two mappers decide differently on one benchmark (to explain why one is faster).

:func:`decision_diff` simulates both mappers and compares, per task: the processor kind, the
back-pressure limit, whether read-only inputs are collected, the memory and layout of each region
argument, and which processor each launched instance ran on. The result is a list of short phrases
(``task_4: InstanceLimit none (was 1)``), most significant first.
"""

from __future__ import annotations

from collections import defaultdict

from systems.mapper.apps import app_machine, get_app
from systems.mapper.dsl import compile_mapper
from systems.mapper.sim.simulator import _Sim


def _decisions(app, text: str, machine) -> dict:
    sim = _Sim(app, compile_mapper(text), machine)
    sim.run()
    pol = sim.policy
    mem: dict = defaultdict(set)
    lay: dict = {}
    for (task, arg, _names, proc, _region, _red), (mid, _spb, _compact) in sim.plans.items():
        memo = sim.layout.mems[mid]
        mem[(task, arg)].add(memo.kind)
        t = app.tasks[task]
        cons = pol.layout_of(t, arg, memo.kind, _names)
        lay[(task, arg)] = ("AOS" if cons.aos else "SOA") + " " + ("C_order" if cons.reverse else "F_order")
    procs: dict = defaultdict(list)
    for inst, p in zip(app.instances, sim.procs):
        procs[inst.tdef.name].append(p)
    collect = {(t.name, i): pol.collects(t, i) for t in app.tasks.values() for i in range(len(t.regions))}
    return {"kind": dict(pol.kind), "limit": dict(pol.limit), "mem": mem, "layout": lay, "procs": procs,
            "collect": collect}


def decision_diff(app_name: str, text_a: str, text_b: str, machine=None, **sizes) -> list[str]:
    """Phrases describing how mapper ``text_b`` decides differently from ``text_a`` (both must run)."""
    m = app_machine(app_name, machine)
    app = get_app(app_name, m, **sizes)
    a, b = _decisions(app, text_a, m), _decisions(app, text_b, m)
    timed = {i.tdef.name for i in app.instances if i.phase == 1}
    timed |= {app.instances[i.parent].tdef.name for i in app.instances if i.phase == 1 and i.parent >= 0}
    out: list[tuple[float, str]] = []
    for t in app.tasks:
        if t not in timed:  # only what runs in the timed phase can explain a time difference
            continue
        if a["kind"][t] != b["kind"][t]:
            out.append((3.0, f"{t} on {b['kind'][t]} (was {a['kind'][t]})"))
        la, lb = a["limit"][t], b["limit"][t]
        if la != lb:
            out.append((2.5, f"{t}: InstanceLimit {lb or 'none'} (was {la or 'none'})"))
    moved_by: dict = defaultdict(list)
    for t in [t for t in app.tasks if t in timed]:
        pa, pb = a["procs"].get(t, []), b["procs"].get(t, [])
        if pa and len(pa) == len(pb):
            moved = sum(x != y for x, y in zip(pa, pb)) / len(pa)
            if moved > 0:
                moved_by[round(100 * moved)].append(t)
    for pct, ts in moved_by.items():
        who = ", ".join(ts[:4]) + (f" and {len(ts) - 4} more tasks" if len(ts) > 4 else "")
        out.append((2.0 * pct / 100, f"{who}: {pct}% of the instances on other processors"))
    for key in sorted(k for k in set(a["mem"]) | set(b["mem"]) if k[0] in timed):
        ma, mb = a["mem"].get(key, set()), b["mem"].get(key, set())
        if ma and mb and ma != mb:
            t, arg = key
            name = app.tasks[t].regions[arg]
            out.append((1.5, f"{t} {name} in {'/'.join(sorted(mb))} (was {'/'.join(sorted(ma))})"))
    for key in sorted(k for k in set(a["layout"]) & set(b["layout"]) if k[0] in timed):
        if a["layout"][key] != b["layout"][key]:
            t, arg = key
            out.append((1.0, f"{t} {app.tasks[t].regions[arg]} {b['layout'][key]} (was {a['layout'][key]})"))
    for key, v in b["collect"].items():
        if key[0] in timed and v != a["collect"].get(key):
            t, arg = key
            if app.tasks[t].regions:
                out.append((0.8, f"{t} {app.tasks[t].regions[arg]}: inputs {'collected' if v else 'kept'} after use"))
    out.sort(key=lambda x: -x[0])
    seen, phrases = set(), []
    for _, p in out:
        if p not in seen:
            seen.add(p)
            phrases.append(p)
    return phrases


__all__ = ["decision_diff"]
