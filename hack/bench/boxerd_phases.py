#!/usr/bin/env python3
"""Where a POST /run's time goes, from a system-wide `perf trace` of sequential runs.

    boxerd_phases.py TRACE LABEL=PID [LABEL=PID ...]

TRACE is the output of
    perf trace -a -o TRACE -e execve,clone,clone3,vfork,wait4,fsync,mkdir,mount,umount2,unlinkat,sendmsg,sendto,recvfrom
taken while each boxerd (PID, still running: its threads are read from /proc) served POST /run
requests one at a time. The processes a boxerd starts (its spare boxer-shims, runsc) are
followed through the clone return values; a run's shim is the spare started before it, which
gets the run's arguments on a socket (the worker's sendto) and forks runsc itself. Each request is cut at the syscalls that mark the
steps of httpd/run_exec.c, shim/launch.c and the shim (shim/main.c, shim/supervise.c,
shim/runsc.c); prints the median (and range) of each step in ms, one column per boxerd.
A request whose steps are not all in the trace (perf lost events) is left out and counted.
"""
import os
import re
import statistics
import sys

LINE = re.compile(r"^\s*([\d.]+|\?) \(\s*([\d.]*)\s*(?:ms)?\): (\S+)/(\d+) (.*)$")

# (key, label, what it covers)
PHASES = [
    ("prep", "request -> arguments handed to the shim",
     "queue, image resolve, run dir, overlay mount, bundle write"),
    ("prep_fsync", "  of which fsync", "none expected: config.json is replaced, not fsynced"),
    ("shim", "handed -> runsc forked", "the spare's argument parsing, pid file, cgroups, pipes"),
    ("shim_fsync", "  of which fsync", "none expected: shim.pid is replaced, not fsynced"),
    ("runsc_exec", "runsc forked -> exec'd", "cgroup join, signal reset (vfork)"),
    ("runsc", "runsc run (exec -> reaped)", "the sandbox, as a raw runsc run"),
    ("record", "reaped -> Wait answered", "drain, exit record, cgroup removal"),
    ("record_fsync", "  of which fsync", "none expected: exit.json is replaced, not fsynced"),
    ("reply", "Wait answered -> HTTP reply sent", "output read, the reply, resume"),
    ("total", "total (request read -> reply sent)", ""),
    ("overhead", "total - runsc run", "what boxerd and the shim add"),
]


def parse(path):
    ev = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m or m.group(1) == "?":
                continue
            t, dur, comm, tid, rest = m.groups()
            mc = re.search(r"\[continued\]:\s*(\w+)", rest)
            ev.append({
                "t": float(t),
                "d": float(dur) if dur else 0.0,
                "comm": comm,
                "tid": int(tid),
                "name": mc.group(1) if mc else rest.split("(")[0].strip(),
                "ret": rest.rsplit("=", 1)[-1].strip() if "=" in rest else "",
                "cont": bool(mc),
            })
    return ev


def child_of(e):
    m = re.match(r"(\d+)", e["ret"])
    return int(m.group(1)) if m and e["name"] in ("clone", "clone3", "vfork") else 0


def requests(ev, pid):
    ours = {int(t) for t in os.listdir(f"/proc/{pid}/task")}
    for e in sorted(ev, key=lambda e: e["t"]):
        if e["tid"] in ours and child_of(e) > 0:
            ours.add(child_of(e))
    mine = sorted((e for e in ev if e["tid"] in ours), key=lambda e: e["t"])
    runs, cur = [], None
    for e in mine:
        # an MHD thread reading a request (a POST /run is > 100 bytes) .. sending its reply
        if e["comm"].startswith("MHD") and e["name"] == "recvfrom" and e["ret"].isdigit() \
                and int(e["ret"]) > 100:
            cur = [e]
        elif cur is not None:
            cur.append(e)
            if e["comm"].startswith("MHD") and e["name"] == "sendmsg":
                runs.append(cur)
                cur = None
    return runs


def phases(r):
    def first(pred):
        return next(e for e in r if pred(e))

    def last(pred):
        return next(e for e in reversed(r) if pred(e))

    def end(e):
        return e["t"] + e["d"]

    t0 = r[0]["t"]
    w = first(lambda e: e["comm"] == "boxerd" and e["name"] == "mkdir")["tid"]  # the worker
    handed = first(lambda e: e["tid"] == w and e["name"] == "sendto" and not e["cont"])
    # runsc: the first process named so after that (perf may name a spare exec'd before the
    # trace after boxerd); its fork's caller is the shim.
    rpid = first(lambda e: e["comm"] == "runsc" and e["t"] >= handed["t"])["tid"]
    rfork = first(lambda e: child_of(e) == rpid)
    dpid = rfork["tid"]
    rexec = first(lambda e: e["tid"] == rpid and e["name"] == "execve" and e["ret"].startswith("0"))
    reaped = first(lambda e: e["tid"] == dpid and e["name"] == "wait4"
                   and e["ret"].startswith(str(rpid)))
    answer = first(lambda e: e["tid"] == dpid and e["name"] == "sendmsg" and e["t"] > reaped["t"])
    # The Delete, the unmount and the removal come after the reply: not part of the latency.
    reply = r[-1]

    def fsyncs(tid, lo, hi):
        return sum(e["d"] for e in r if e["tid"] == tid and e["name"] == "fsync" and lo <= e["t"] < hi)

    p = {
        "prep": handed["t"] - t0,
        "prep_fsync": fsyncs(w, t0, handed["t"]),
        "shim": rfork["t"] - handed["t"],
        "shim_fsync": fsyncs(dpid, handed["t"], rfork["t"]),
        "runsc_exec": rexec["t"] - rfork["t"],
        "runsc": reaped["t"] - rexec["t"],
        "record": answer["t"] - reaped["t"],
        "record_fsync": fsyncs(dpid, reaped["t"], answer["t"]),
        "reply": reply["t"] - answer["t"],
        "total": reply["t"] - t0,
    }
    p["overhead"] = p["total"] - p["runsc"]
    return p


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ev = parse(sys.argv[1])
    cols = []
    for arg in sys.argv[2:]:
        label, pid = arg.split("=", 1)
        rows, lost = [], 0
        for r in requests(ev, int(pid)):
            try:
                rows.append(phases(r))
            except (StopIteration, KeyError):
                lost += 1
        cols.append((label, rows, lost))
    print(f"  {'ms, median (min-max)':38s}" + "".join(f"{label:>22s}" for label, _, _ in cols))
    for key, label, what in PHASES:
        cells = ""
        for _, rows, _ in cols:
            v = [x[key] for x in rows]
            cells += f"{statistics.median(v):8.1f} ({min(v):5.0f}-{max(v):4.0f})" if v else f"{'-':>22s}"
        print(f"  {label:38s}{cells}   {what}")
    print("  requests followed: " + ", ".join(f"{label} {len(rows)} ({lost} left out)"
                                            for label, rows, lost in cols))


if __name__ == "__main__":
    main()
