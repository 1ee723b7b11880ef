"""Per-request instructions by function from pairs of callgrind profiles.

    python3 bench/floor/callgrind_diff.py DIR N NAMES DIFFS [TOP]

bench/floor-callgrind.sh runs it. For each NAME in NAMES (space-separated)
DIR holds NAME.1.ann and NAME.2.ann, callgrind_annotate --tree=none
--threshold=100 output of a Caddy that served N, then 2N requests, and the
profiles themselves, NAME.1.callgrind and NAME.2.callgrind. The per-request
cost of a function is (self(2N) - self(N)) / N, so start-up and shut-down
cancel; so are its calls per request, and the Go runtime's counters read
from NAME.1.metrics and NAME.2.metrics (the admin API's /metrics).

It prints the totals; per configuration, the cost by package (the runtime
split into its garbage collector, its allocator and the rest, by function
name) and the top functions; calls per request of the functions that count
allocations, collections and system calls; and for each pair "a-b" of DIFFS
(space-separated) the differences by package, of those calls, and by
function, largest first, with the running sum. TOP (default 25) bounds the
function tables. Functions are keyed by name: the file of file:function and
callgrind's recursion suffix ('2) are dropped.
"""

import re
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)(?:\s+\[[^\]]*\])?\s*$")
RECURSION = re.compile(r"'\d+$")

# Runtime functions of the garbage collector (marking, sweeping, scavenging,
# write barriers, walking goroutine stacks, which stack growth does too)
# and of the allocator, by name. A grouping for reading, not
# an exact attribution: mallocgc's assist work, for one, is in gcAssistAlloc.
GC = re.compile(
    r"^(runtime\.(gc|scan|mark|tryDeferToSpanScan|findObject|wbBuf|typePointers|sweep|bgsweep|bgscavenge|"
    r"greyobject|shade|spanOf|pageAlloc|pallocBits|scavenge|heapBitsSmallForAddr|extractHeapBitsSmall|spanSetScans|"
    r"bulkBarrier|wbZero|wbMove|\(\*spanSet\)|"
    r"pcvalue|step|\(\*unwinder\)|funcspdelta|pcdatavalue|findfunc|scanframeworker|scanstack|getStackMap|"
    r"\(\*stkframe\)|\(\*moduledata\)\.textAddr|adjustpointers|adjustframe|copystack|newstack|"
    r"\(\*gcWork\)|\(\*gcBits\)|\(\*spanInlineMarkBits\)|\(\*spanQueue\)|\(\*spanSPMC\)|\(\*mspan\)\.(sweep|typePointers|heapBits|markBits|objIndex|isFree|scan)|"
    r"\(\*sweepLocked\)|\(\*pageAlloc\)|\(\*pallocBits\)|\(\*pallocData\)|\(\*scavengerState\)|\(\*scavChunkData\)|\(\*scavengeIndex\)|"
    r"\(\*gcControllerState\)|\(\*gcCPULimiterState\)|\(\*mheap\)\.(reclaim|nextSpanForSweep|freeSpan|allocSpan))|"
    r"gcWriteBarrier.*|runtime\.gcWriteBarrier.*)"
)
ALLOC = re.compile(
    r"^runtime\.(malloc|nextFreeFast|memclrNoHeapPointers|heapSetType|newobject|makeslice|growslice|newarray|"
    r"makemap|rawstring|rawbyteslice|rawruneslice|concatstring|slicebytetostring|stringtoslicebyte|"
    r"\(\*mcache\)|\(\*mcentral\)|\(\*mspan\)\.(nextFreeIndex|init|refillAllocCache|writeHeapBits|initHeapBits)|"
    r"\(\*mheap\)\.(alloc|allocSpan|allocNeedsZero|initSpan)|\(\*fixalloc\)|deductAssistCredit|publicationBarrier)"
)

# calls per request of these (callees, any caller)
CALLS = [
    ("runtime.mallocgc", "allocations (calls of runtime.mallocgc)"),
    ("runtime.gcMarkTermination", "collections (calls of runtime.gcMarkTermination)"),
    ("internal/runtime/syscall/linux.Syscall6", "system calls through package syscall"),
    ("runtime.futex.abi0", "futex calls of the runtime"),
    ("runtime.netpoll", "netpoll polls"),
]


def key(fn):
    return RECURSION.sub("", fn)


def package(fn):
    if fn.startswith("runtime.") or fn.startswith("gcWriteBarrier"):
        if GC.match(fn):
            return "runtime: garbage collector"
        if ALLOC.match(fn):
            return "runtime: allocator"
        return "runtime: other"
    slash = fn.rfind("/")
    dot = fn.find(".", slash + 1)
    return fn[:dot] if dot > 0 else fn


def load(path):
    total, fns = None, {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            n, what = int(m.group(1).replace(",", "")), m.group(2)
            if what == "PROGRAM TOTALS":
                total = n
                continue
            fn = key(what.split(":", 1)[1] if ":" in what else what)
            fns[fn] = fns.get(fn, 0) + n
    if total is None:
        sys.exit(f"{path}: no PROGRAM TOTALS line: not callgrind_annotate output")
    return total, fns


NAMED = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")


def load_calls(path):
    """Calls per callee, from a callgrind profile's calls= lines."""
    names, calls, callee = {}, {}, None
    with open(path) as f:
        for line in f:
            if line.startswith("cfn="):
                m = NAMED.match(line.rstrip("\n"))
                if m.group(2) is not None:
                    names[m.group(1)] = key(m.group(2))
                callee = names.get(m.group(1))
            elif line.startswith("fn="):
                m = NAMED.match(line.rstrip("\n"))
                if m.group(2) is not None:
                    names[m.group(1)] = key(m.group(2))
            elif line.startswith("calls=") and callee is not None:
                calls[callee] = calls.get(callee, 0) + int(line[6:].split()[0])
    return calls


# Go runtime counters from the admin API's /metrics, read after the requests
METRICS = [
    ("go_memstats_alloc_bytes_total", "bytes allocated"),
    ("go_memstats_mallocs_total", "objects allocated"),
    ("go_gc_duration_seconds_count", "collections"),
]


def load_metrics(path):
    vals = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] in dict(METRICS):
                    vals[parts[0]] = float(parts[1])
    except FileNotFoundError:
        pass
    return vals


def per_request(d, name, n):
    t1, f1 = load(f"{d}/{name}.1.ann")
    t2, f2 = load(f"{d}/{name}.2.ann")
    fns = {k: (f2.get(k, 0) - f1.get(k, 0)) / n for k in set(f1) | set(f2)}
    c1, c2 = load_calls(f"{d}/{name}.1.callgrind"), load_calls(f"{d}/{name}.2.callgrind")
    calls = {k: (c2.get(k, 0) - c1.get(k, 0)) / n for k, _ in CALLS}
    pkgs = {}
    for fn, v in fns.items():
        p = package(fn)
        pkgs[p] = pkgs.get(p, 0) + v
    m1, m2 = load_metrics(f"{d}/{name}.1.metrics"), load_metrics(f"{d}/{name}.2.metrics")
    metrics = {k: (m2[k] - m1[k]) / n if k in m1 and k in m2 else float("nan") for k, _ in METRICS}
    return {"total": (t2 - t1) / n, "fns": fns, "pkgs": pkgs, "calls": calls, "metrics": metrics}


def main():
    d, n, names, diffs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
    top = int(sys.argv[5]) if len(sys.argv) > 5 else 25
    res = {name: per_request(d, name, n) for name in names}

    gc = "runtime: garbage collector"
    print(f"instructions per request ((I(2N) - I(N)) / N, N={n}); the collector's share moves with where")
    print("its cycles fall, so the total less it is the steadier figure")
    print(f"  {'':<16} {'total':>10} {'collector':>10} {'less it':>10}")
    for name in names:
        r = res[name]
        g = r["pkgs"].get(gc, 0)
        print(f"  {name:<16} {r['total']:>10.0f} {g:>10.0f} {r['total'] - g:>10.0f}")

    print("\nGo runtime counters per request (admin API /metrics)")
    print("  " + "".join(f"{name:>12}" for name in names) + "  what")
    for k, what in METRICS:
        print("  " + "".join(f"{res[name]['metrics'][k]:>12.3f}" for name in names) + f"  {what}")

    print("\ncalls per request")
    print("  " + "".join(f"{name:>12}" for name in names) + "  what")
    for fn, what in CALLS:
        print("  " + "".join(f"{res[name]['calls'][fn]:>12.3f}" for name in names) + f"  {what}")

    print("\ninstructions per request by package (runtime split by function name)")
    pkgs = sorted({p for name in names for p in res[name]["pkgs"]},
                  key=lambda p: -max(abs(res[name]["pkgs"].get(p, 0)) for name in names))
    print("  " + "".join(f"{name:>12}" for name in names) + "  package")
    for p in pkgs[:top]:
        print("  " + "".join(f"{res[name]['pkgs'].get(p, 0):>12.0f}" for name in names) + f"  {p}")

    for name in names:
        r = res[name]
        print(f"\n== {name}: top {top} functions by self instructions per request (total {r['total']:.0f})")
        for fn, v in sorted(r["fns"].items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {v:>9.0f}  {fn}")

    for pair in diffs:
        a, b = pair.split("-", 1)
        if a not in res or b not in res:
            print(f"\n(skipped {pair}: not both were run)")
            continue
        ra, rb = res[a], res[b]
        print(f"\n== {a} - {b}: {ra['total'] - rb['total']:+.0f} instructions per request")
        print("  by package:")
        dp = {p: ra["pkgs"].get(p, 0) - rb["pkgs"].get(p, 0) for p in set(ra["pkgs"]) | set(rb["pkgs"])}
        for p, v in sorted(dp.items(), key=lambda kv: -abs(kv[1]))[:12]:
            print(f"  {v:>+9.0f}  {p}")
        print("  Go runtime counters per request:")
        for k, what in METRICS:
            print(f"  {ra['metrics'][k] - rb['metrics'][k]:>+9.3f}  {what}")
        print("  calls per request:")
        for fn, what in CALLS:
            print(f"  {ra['calls'][fn] - rb['calls'][fn]:>+9.3f}  {what}")
        print(f"  top {top} functions by |difference|:")
        print(f"  {'diff':>9}  {'running':>9}  {a:>9}  {b:>9}  function")
        delta = {k: ra["fns"].get(k, 0) - rb["fns"].get(k, 0) for k in set(ra["fns"]) | set(rb["fns"])}
        run = 0.0
        for fn, v in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:top]:
            run += v
            print(f"  {v:>+9.0f}  {run:>+9.0f}  {ra['fns'].get(fn, 0):>9.0f}  {rb['fns'].get(fn, 0):>9.0f}  {fn}")


if __name__ == "__main__":
    main()
