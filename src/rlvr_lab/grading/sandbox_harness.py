"""The test harness that runs *inside* the sandbox: one untrusted program, then its tests, then one report.

Not imported by the library: :mod:`rlvr_lab.grading.execution` passes this file's source to ``python -I -c``, so
it must use the standard library only and must not rely on the package being readable inside the sandbox.

Protocol. ``argv[1]`` is the number of an inherited pipe (the report channel). Standard input carries one JSON
object, ``{"nonce", "program", "tests", "entry_point", "limits", "block_sockets"}``, read whole before any
untrusted code runs;
then standard input is replaced by ``/dev/null``, so the program cannot read the nonce from it, and the program
and tests never exist as files it could read. The harness then sets the resource limits (soft = hard, so the
program cannot raise them), execs the program, execs the tests, and writes one JSON line to the report pipe:
``{"status": "passed", "nonce": ...}`` only when the tests ran to their end; otherwise ``failed`` (an assertion
or an exception raised while the tests ran, with the line of the test that failed), ``oom`` (``MemoryError``) or
``error`` (the program did not load, or exited before the tests ended). A program that exits early
(``sys.exit(0)``, ``os._exit(0)``, a signal) never writes the nonce, and the parent grades it ``error``.

Against a program that tampers with the tests' world: ``exec``, ``compile`` and the report writer are bound
before it runs; the tests run with a snapshot of the builtins taken before the program ran (so
``builtins.abs = ...`` does not reach them), see none of the program's globals that shadow a builtin (except the
function under test), and start with tracing and profiling hooks removed.
"""

import builtins
import contextlib
import json
import os
import resource
import sys
import traceback

LIMITS = {
    "cpu_s": resource.RLIMIT_CPU,
    "address_space": resource.RLIMIT_AS,
    "file_size": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}
DETAIL_LIMIT = 500


def _set_limits(limits):
    for name, value in limits.items():
        if value is not None:
            resource.setrlimit(LIMITS[name], (value, value))


def _block_sockets():
    """Used only where no network namespace exists: a Python-level block, not a security boundary."""
    import _socket
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in the sandbox")

    for module in (socket, _socket):
        module.socket = refuse
    socket.create_connection = refuse


def _test_line(error, tests):
    """The line of the tests (compiled as ``<tests>``) where ``error`` surfaced, or ''."""
    lines = tests.splitlines()
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == "<tests>" and frame.lineno and 0 < frame.lineno <= len(lines):
            return lines[frame.lineno - 1].strip()
    return ""


def _describe(error, tests):
    text = f"{type(error).__name__}: {error}".strip().rstrip(":")
    line = _test_line(error, tests)
    return (f"{line} -> {text}" if line else text)[:DETAIL_LIMIT]


def main():
    report_fd = int(sys.argv[1])
    # Bound before the program runs, so it cannot swap them for no-ops.
    write, dumps, run, build = os.write, json.dumps, builtins.exec, builtins.compile
    settrace, setprofile = sys.settrace, sys.setprofile
    pristine = dict(vars(builtins))
    payload = json.loads(sys.stdin.read())
    nonce = payload.pop("nonce")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if payload["block_sockets"]:
        _block_sockets()
    _set_limits(payload["limits"])
    namespace = {"__name__": "__sandbox__", "__builtins__": builtins}
    entry_point = payload["entry_point"]
    stage = "program"
    try:
        run(build(payload["program"], "<program>", "exec"), namespace)
        stage = "tests"
        tests = {k: v for k, v in namespace.items() if k not in pristine or k == entry_point}
        tests.update(__name__="__sandbox__", __builtins__=dict(pristine))
        settrace(None)
        setprofile(None)
        run(build(payload["tests"], "<tests>", "exec"), tests)
    except MemoryError:
        report = {"status": "oom", "detail": f"MemoryError in the {stage}"}
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: the tests did not run to their end
        if isinstance(error, SystemExit):
            report = {"status": "error", "detail": f"SystemExit({error.code!r}) in the {stage}: tests not finished"}
        elif stage == "tests":
            report = {"status": "failed", "detail": _describe(error, payload["tests"])}
        else:
            report = {"status": "error", "detail": f"the program did not load: {_describe(error, '')}"}
    else:
        report = {"status": "passed", "nonce": nonce}
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # a full disk or a closed stream must not cost the report
            stream.flush()
    write(report_fd, (dumps(report) + "\n").encode())


if __name__ == "__main__":
    main()
