"""``tfhelp triage PATH...``: scan many logs and count which root causes broke them.

PATH is a file, a folder (searched recursively; ``--include`` narrows which names count), a glob
(quote it; ``**`` crosses folders) or a ``.gz`` file.  Each file is scanned exactly as
``--from-log`` scans it, in ``--jobs`` worker processes on this machine, or as Dask tasks on a
running cluster with ``--dask ADDRESS`` (``pip install 'tfhelp[dask]'``; every worker needs tfhelp
and must see the files at the same paths: shared storage).  Files that can't be read are listed
and skipped.  The per-file results merge associatively (:mod:`tfhelp.kb.triage`), so a cluster
run and a local run print the same JSON.
"""
from __future__ import annotations

import os

NAME = "triage"
HELP = "scan many logs (files, folders, globs, .gz) in parallel and count their root causes"
DESCRIPTION = ("Scan many logs and count which root causes broke them. PATH is a file, a folder (searched "
               "recursively; --include narrows which names count), a glob (quote it; ** crosses folders) or a "
               ".gz file. Each file is scanned exactly as --from-log scans it, in --jobs worker processes, or as "
               "Dask tasks on a running cluster with --dask ADDRESS (pip install 'tfhelp[dask]'; every worker "
               "needs the same tfhelp and must see the files at the same paths: shared storage). Files that "
               "can't be read are listed and skipped. A cluster run and a local run print the same JSON. "
               "More: docs/triage.md.")
EPILOG = ("Exit status (as --from-log's for one file): 0 at least one file has a known cause; 1 the "
          "files were scanned and nothing was explained; 2 usage error, or every file was bad input: "
          "unreadable (missing, empty, a FIFO or device, permission denied) or only partly read (a gzip "
          "bomb, --max-bytes, truncated or corrupt gzip). Bad files among good ones never stop the run: "
          "they are listed on standard error and the status comes from the others. 130 interrupted.")

#: Files per task: small job logs are cheap, so batch them to keep the scheduling overhead low.
BATCH = 8


def register(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files, folders (recursive), globs, .gz")
    parser.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                        help="worker processes on this machine (default: one per CPU; 1: no workers)")
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="only files whose name matches, inside folders (repeatable), e.g. '*.log' '*.out'")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run the scans on a Dask cluster: scheduler address (tcp://host:8786) or "
                             "scheduler file (.json); workers need tfhelp and the same paths")
    parser.add_argument("--dask-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for the Dask scheduler (default 30)")
    parser.add_argument("--prefilter", choices=("auto", "hyperscan", "ahocorasick"), default="auto",
                        help="literal search back-end (default: hyperscan when installed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    from tfhelp.kb.sources import add_input_options

    add_input_options(parser)


def run(args, ctx) -> int:
    from tfhelp.kb import triage

    paths, problems = triage.expand(args.paths, include=args.include)
    if not paths:
        for pat, msg in problems:
            ctx.stderr.write(f"tfhelp: {pat}: {msg}\n")
        ctx.stderr.write("tfhelp: triage: nothing to scan\n")
        return 2
    if args.jobs < 0:
        ctx.stderr.write("tfhelp: --jobs must be 1 or more (0: one per CPU)\n")
        return 2
    backend = None if args.prefilter == "auto" else args.prefilter
    from tfhelp.kb.sources import input_options

    options = triage.Options(rule_dirs=tuple(str(d) for d in ctx.rule_dirs), user_rules=ctx.user_rules,
                             backend=backend, **input_options(args))
    ruleset = ctx.ruleset()
    from tfhelp.assistant.frontends.commands.diagnose import warn_rule_problems

    warn_rule_problems(ruleset, ctx)
    pairs = [(p, os.path.abspath(p)) for p in paths]
    bar = None
    if ctx.stderr_isatty and not args.no_progress:
        bar = _progress(ctx, len(pairs))
    try:
        try:
            if args.dask:
                results = run_dask(args.dask, pairs, options, ruleset_args=(ctx.rule_dirs, ctx.user_rules),
                                   progress=bar[1] if bar else None, timeout=args.dask_timeout)
            else:
                results = run_local(pairs, options, ruleset, jobs=args.jobs or _cpus(),
                                    progress=bar[1] if bar else None)
        finally:
            if bar is not None:
                bar[0].stop()
    except KeyboardInterrupt:
        ctx.stderr.write("tfhelp: interrupted\n")
        return 130
    except DaskError as exc:
        ctx.stderr.write(f"tfhelp: --dask: {exc}\n")
        return 2
    results.sort(key=lambda e: e.path)
    doc, tally = triage.summarize(results, problems)
    if getattr(args, "json", False):
        ctx.stdout.write(triage.document_json(results, problems) + "\n")
    else:
        from tfhelp.assistant.render.triage import render_triage

        render_triage(doc, tally, ctx.console())
    for e in doc["errors"]:
        ctx.stderr.write(f"tfhelp: {e['path']}: {e['error']} (skipped)\n")
    for e in doc["incomplete"]:
        ctx.stderr.write(f"tfhelp: {e['path']}: {e['reason']} (partly read: its findings cover what was read)\n")
    return triage.exit_status(doc["totals"])


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _batches(pairs: list, jobs: int) -> list:
    """Batches of at most BATCH files, small enough that every worker gets several."""
    size = max(1, min(BATCH, len(pairs) // (jobs * 4) or 1))
    return [pairs[i:i + size] for i in range(0, len(pairs), size)]


# -- local worker processes --------------------------------------------------------------------
def run_local(pairs: list, options, ruleset, jobs: int, progress=None) -> list:
    """Scan ``[(shown path, path to open)]`` in ``jobs`` processes (1: in this one); a list of
    :class:`tfhelp.kb.triage.Encoded`, in no particular order."""
    from tfhelp.kb import triage

    triage.use_ruleset(ruleset, options)
    if jobs <= 1 or len(pairs) <= 1:
        out = []
        for shown, real in pairs:
            out.append(triage.Encoded.of(triage.scan_path(shown, options, open_as=real)))
            if progress:
                progress(1)
        return out
    import multiprocessing as mp

    # fork shares the loaded rule base with the workers for free; elsewhere each worker loads it
    # (from the rule cache) in its initializer.
    method = "fork" if "fork" in mp.get_all_start_methods() and os.name == "posix" and \
        not _is_macos() else "spawn"
    mpctx = mp.get_context(method)
    batches = _batches(pairs, jobs)
    out = []
    pool = mpctx.Pool(processes=min(jobs, len(batches)), initializer=_init_worker, initargs=(options,))
    import signal

    def _terminated(signum, _frame):
        raise SystemExit(128 + signum)  # unwinds to pool.terminate(): no orphaned workers

    try:
        old_term = signal.signal(signal.SIGTERM, _terminated)
    except (AttributeError, ValueError):  # no SIGTERM here, or not the main thread
        old_term = None
    try:
        for chunk in pool.imap_unordered(_scan_batch, [(b, options) for b in batches]):
            out.extend(chunk)
            if progress:
                progress(len(chunk))
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return out


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"


def _init_worker(options) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (a forked worker inherits the parent's handler)
    from tfhelp.kb import triage

    triage._ruleset(options, None)


def _scan_batch(job) -> list:
    from tfhelp.kb import triage

    batch, options = job
    return triage.scan_paths_encoded(batch, options)


# -- Dask ---------------------------------------------------------------------------------------
class DaskError(Exception):
    """Dask missing, the scheduler unreachable, or a worker unable to run the scans."""


def run_dask(address: str, pairs: list, options, ruleset_args=((), True), progress=None,
             client=None, timeout: float = 30.0) -> list:
    """The same per-file function as Dask tasks on the cluster at ``address`` (or ``client``);
    a list of :class:`tfhelp.kb.triage.Encoded` as :func:`run_local` returns."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise DaskError("Dask is not installed: pip install 'tfhelp[dask]' (dask[distributed])") from None
    from tfhelp.kb import triage
    from tfhelp.kb.loader import rule_bundle

    own = client is None
    if own:
        try:
            if address.endswith(".json") and os.path.isfile(address):
                client = Client(scheduler_file=address, timeout=f"{timeout}s")
            else:
                client = Client(address, timeout=f"{timeout}s")
        except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, bad address
            raise DaskError(f"cannot reach the scheduler at {address}: {exc}") from None
    try:
        rule_dirs, user_rules = ruleset_args
        bundle = rule_bundle(extra_dirs=list(rule_dirs), user_rules=user_rules)
        [shared] = client.scatter([bundle], broadcast=True)  # sent once per worker, not per task
        batches = _batches(pairs, max(1, _dask_threads(client)))
        futures = client.map(triage.scan_paths_encoded, batches, options=options, bundle=shared, pure=False)
        out = []
        try:
            for fut in as_completed(futures):
                chunk = fut.result()
                out.extend(chunk)
                if progress:
                    progress(len(chunk))
        except Exception as exc:  # noqa: BLE001 - a worker without tfhelp, a version mismatch
            raise DaskError(f"a task failed on the cluster: {type(exc).__name__}: {exc}") from None
        return out
    finally:
        if own:
            client.close()


def _dask_threads(client) -> int:
    try:
        return sum(client.nthreads().values()) or 1
    except Exception:  # noqa: BLE001
        return 1


# -- progress -----------------------------------------------------------------------------------
def _progress(ctx, total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(TextColumn("triage"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                    TimeRemainingColumn(), console=ctx.console(stderr=True), transient=True)
    task = prog.add_task("triage", total=total)
    started = []

    def advance(n: int) -> None:
        if not started:  # first result: the worker processes exist, so no fork meets the bar's thread
            prog.start()
            started.append(True)
        prog.update(task, advance=n)

    return prog, advance
