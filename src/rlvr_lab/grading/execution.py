"""A sandbox for untrusted programs: run a program and its tests, get a verdict as data, never an exception.

Each (program, tests) pair runs in its own subprocess, in a fresh temporary directory, with a clean environment,
under a wall-clock timeout after which its whole process group is killed (SIGKILL), and with resource limits
(soft = hard) on CPU time, address space, file size, open files and processes. The harness inside
(:mod:`rlvr_lab.grading.sandbox_harness`) reports on a private pipe; a program passes only when that report
carries a random nonce, which the harness writes after the last test and which the program never sees (it is
read from standard input before the program runs, and standard input is then replaced by ``/dev/null``). So an
exit code alone is never trusted: ``sys.exit(0)``, ``os._exit(0)``, a signal or a replaced harness is ``error``.

Isolation backends, chosen once per process (``backend="auto"`` takes the first whose probe runs ``python``):

========= ========================================================= ===========================================
backend   how                                                       when
========= ========================================================= ===========================================
bwrap     bubblewrap: new pid, net, ipc, uts (and, unless root,     ``bwrap`` is installed and may create
          user) namespaces; ``/`` bound read-only, a private        namespaces
          ``/tmp``, only the work directory writable
unshare   util-linux ``unshare``: new pid, net, ipc, uts, mount     no bwrap, but namespaces allowed
          namespaces; as root the work directory is mounted over
          ``/tmp`` and ``/var/tmp``, ``/dev/shm``, ``/run/lock``
          are covered with root-owned tmpfs; as a user, a user
          namespace and the user's own file permissions
plain     a plain subprocess; sockets blocked inside Python only    nothing else works (documented as weak)
========= ========================================================= ===========================================

As root, every backend also drops the program to uid/gid 65534 (``nobody``) with ``setpriv`` (no capabilities,
no supplementary groups, no new privileges), because the kernel never applies ``RLIMIT_NPROC`` to root and
root ignores file permissions. :func:`protections` says which protections are active where you run.

What the sandbox does NOT protect against:
- reading files: the program sees the host's file system (read-only, and through nobody's permissions as root),
  so it can read whatever that user may read, and anything it can find in the harness's own memory (a program
  that deliberately walks the harness's frames can find the nonce: the nonce stops early exits, not a targeted
  attack on the harness);
- objects that fool the tests (``__eq__`` that always returns True) or tests that are weak: the verdict is only
  as good as the tests;
- kernel exploits, side channels, and CPU or disk-bandwidth hogging inside the timeout;
- filling the disk: each file is capped (``RLIMIT_FSIZE``) but not their number, within the timeout;
- memory outside the address-space limit: tmpfs pages (a private ``/tmp`` of bwrap is capped by size) and the
  kernel's own buffers;
- with ``unshare`` as a user, writing anywhere that user may write; with ``plain``, network access through C
  code (only Python's ``socket`` is blocked), processes that escape the process group with ``setsid``, and
  signals to other processes of the same user.
- ``RLIMIT_NPROC`` counts every process of the sandbox uid, so concurrent programs share the limit as root.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

CodeStatus = Literal["passed", "failed", "timeout", "error", "oom"]
"""``passed``: the tests ran to their end; ``failed``: a test assertion (or an exception while testing);
``timeout``: killed past the wall clock or the CPU limit; ``error``: the program did not load, exited before the
tests ended, or the sandbox failed; ``oom``: the address-space limit was hit."""

CODE_STATUSES: tuple[CodeStatus, ...] = ("passed", "failed", "timeout", "error", "oom")
BACKENDS = ("bwrap", "unshare", "plain")
SANDBOX_UID = 65534
"""``nobody``: the uid a program runs as when the grader runs as root."""
PROBE_TIMEOUT_S = 30.0
REPORT_LIMIT = 65536
HARNESS = (Path(__file__).with_name("sandbox_harness.py")).read_text(encoding="utf-8")
WRITABLE_TMP_DIRS = ("/var/tmp", "/dev/shm", "/run/lock")
"""World-writable directories that the ``unshare`` backend covers with a root-owned tmpfs (as root)."""
_UNSHARE_SCRIPT = (
    'set -e; work="$1"; shift; mount --bind "$work" /tmp; '
    f"for d in {' '.join(WRITABLE_TMP_DIRS)}; do "
    'if [ -d "$d" ]; then mount -t tmpfs -o size=1m,mode=755 tmpfs "$d"; fi; done; cd /tmp; exec "$@"'
)


@dataclass(frozen=True)
class SandboxConfig:
    """Limits of one program run; stored with every graded file."""

    timeout_s: float = 10.0
    """Wall-clock limit per program (tests included); past it the whole process group is killed."""
    memory_mb: int = 1024
    """Address-space limit (``RLIMIT_AS``); an allocation past it is ``oom``."""
    file_size_mb: int = 16
    """Largest file the program may write (``RLIMIT_FSIZE``); its stdout and stderr count as files too."""
    open_files: int = 64
    """File descriptors (``RLIMIT_NOFILE``)."""
    processes: int = 32
    """Processes and threads of the sandbox uid (``RLIMIT_NPROC``), where the kernel can count them."""
    output_bytes: int = 4096
    """Bytes of stdout + stderr kept per program (for the error detail)."""
    workers: int | None = None
    """Programs run at once; None: one per available CPU core, at most 4."""
    backend: str = "auto"
    """Isolation: auto (the strongest that works), bwrap, unshare or plain."""
    site_packages: bool = False
    """Let programs import installed packages (numpy, ...); off: the standard library only, and a faster start."""
    cache_size: int = 100_000
    """Verdicts remembered across calls (least recently used are forgotten first)."""

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        for name in ("memory_mb", "file_size_mb", "open_files", "processes", "output_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1 (or None), got {self.workers}")
        if self.backend not in ("auto", *BACKENDS):
            raise ValueError(f"unknown sandbox backend {self.backend!r}; choose auto, {', '.join(BACKENDS)}")

    def resolved_workers(self) -> int:
        from rlvr_lab.grading.grade import available_cpus

        return self.workers if self.workers is not None else min(4, available_cpus())


@dataclass(frozen=True)
class ExecutionResult:
    """The verdict on one (program, tests) pair."""

    status: CodeStatus
    detail: str = ""
    """Why, when not passed: the failing test line and exception, the exit code, the limit hit."""
    output: str = ""
    """The first ``output_bytes`` of the program's stdout and stderr."""
    seconds: float = 0.0
    """Wall-clock time of the run."""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# ---------------------------------------------------------------------------------------------- backends


def _is_root() -> bool:
    return os.geteuid() == 0


def _drop_privileges() -> list[str]:
    """The ``setpriv`` prefix that turns root into nobody; empty when not root."""
    if not _is_root():
        return []
    return [
        "setpriv",
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_UID}",
        "--clear-groups",
        "--inh-caps=-all",
        "--no-new-privs",
    ]


def _environment(home: str) -> dict[str, str]:
    """The whole environment of a program: nothing inherited, so no secret leaks in."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


def _command(backend: str, workdir: Path, python: list[str]) -> tuple[list[str], str]:
    """The argv that runs ``python`` (an argv) in ``workdir`` under ``backend``, and the work directory as the
    program sees it."""
    work = str(workdir)
    if backend == "bwrap":
        env = _environment(work)
        setenv = [arg for key, value in env.items() for arg in ("--setenv", key, value)]
        user = [] if _is_root() else ["--unshare-user"]
        return [
            "bwrap",
            *user,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--size", str(16 << 20), "--tmpfs", "/tmp",
            "--bind", work, work,
            "--chdir", work,
            "--clearenv", *setenv,
            "--", *_drop_privileges(), *python,
        ], work  # fmt: skip
    if backend == "unshare":
        spaces = ["--net", "--pid", "--ipc", "--uts", "--mount", "--fork", "--kill-child", "--mount-proc"]
        if _is_root():
            return ["unshare", *spaces, "sh", "-c", _UNSHARE_SCRIPT, "sh", work, *_drop_privileges(), *python], "/tmp"
        return ["unshare", "--user", "--map-root-user", *spaces, *python], work
    return [*_drop_privileges(), *python], work


def _limits(config: SandboxConfig, backend: str) -> dict[str, int | None]:
    """Resource limits in the harness's units; ``processes`` is None where the kernel would count the wrong set."""
    # Without a new user namespace and without a uid of its own, RLIMIT_NPROC counts all the user's processes.
    counts_own = _is_root() or backend in ("bwrap", "unshare")
    return {
        "cpu_s": int(config.timeout_s) + 1,
        "address_space": config.memory_mb << 20,
        "file_size": config.file_size_mb << 20,
        "open_files": config.open_files,
        "processes": config.processes if counts_own else None,
    }


@cache
def _probe(backend: str) -> str:
    """Empty if ``backend`` can run the harness's python here, else why not."""
    with tempfile.TemporaryDirectory(prefix="rlvr-probe-") as base:
        Path(base).chmod(0o711)
        workdir = _workdir(Path(base), "probe")
        command, _ = _command(backend, workdir, [sys.executable, "-I", "-c", "import math"])
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=PROBE_TIMEOUT_S, env=_environment(str(workdir)), cwd=workdir
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"{type(error).__name__}: {error}"
        if done.returncode != 0:
            return f"exit code {done.returncode}: {done.stderr.decode(errors='replace').strip()[:300]}"
    return ""


def resolve_backend(requested: str = "auto") -> str:
    """The backend to use: ``requested`` if it works here (else ``RuntimeError`` saying why), or for ``auto`` the
    first of bwrap, unshare, plain that does."""
    if requested != "auto":
        problem = _probe(requested)
        if problem:
            raise RuntimeError(f"sandbox backend {requested!r} does not work here: {problem}")
        return requested
    return next(name for name in BACKENDS if name == "plain" or not _probe(name))


def protections(config: SandboxConfig | None = None) -> dict[str, str]:
    """Which protections are active here for ``config`` (recorded in graded files, printed by the benchmark)."""
    config = config or SandboxConfig()
    backend = resolve_backend(config.backend)
    root = _is_root()
    user = f"uid {SANDBOX_UID} (nobody) via setpriv, no capabilities" if root else f"uid {os.geteuid()} (yours)"
    filesystem = {
        "bwrap": "read-only root, private /tmp (16 MiB), only the work directory writable",
        "unshare": "work directory mounted over /tmp; other writes refused by nobody's permissions"
        if root
        else "user namespace only: the program may write wherever you may",
        "plain": "nobody's file permissions" if root else "none beyond your own permissions",
    }[backend]
    network = "none (own network namespace)" if backend != "plain" else "Python sockets blocked (bypassable)"
    limits = _limits(config, backend)
    nproc = "not limited" if limits["processes"] is None else f"RLIMIT_NPROC={limits['processes']}"
    processes = ("own pid namespace, " if backend != "plain" else "own session, ") + nproc
    return {"backend": backend, "user": user, "filesystem": filesystem, "network": network, "processes": processes}


# ---------------------------------------------------------------------------------------------- one run


def _workdir(base: Path, name: str) -> Path:
    """A fresh directory the program may write (owned by the sandbox uid when running as root)."""
    path = base / name
    path.mkdir(mode=0o700)
    if _is_root():
        os.chown(path, SANDBOX_UID, SANDBOX_UID)
    return path


def _remove(path: Path) -> None:
    """Delete what a program left, even directories it made unreadable."""

    def retry(function: Callable[..., object], target: str, _: object) -> None:
        os.chmod(os.path.dirname(target), 0o700)
        if os.path.isdir(target):
            os.chmod(target, 0o700)
        function(target)

    if path.exists():
        shutil.rmtree(path, onerror=retry)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read_report(fd: int) -> dict | None:
    """The first JSON line on the report pipe, or None (nothing, or not JSON)."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, REPORT_LIMIT)
    except BlockingIOError:
        data = b""
    finally:
        os.close(fd)
    line = data.split(b"\n", 1)[0]
    try:
        report = json.loads(line)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def run_program(
    program: str,
    tests: str,
    config: SandboxConfig,
    base: Path,
    name: str,
    backend: str | None = None,
    entry_point: str | None = None,
) -> ExecutionResult:
    """Run ``program`` then ``tests`` once in a new work directory ``base/name``; always returns a verdict.

    ``entry_point`` names the function under test, which the tests may see even when it shadows a builtin."""
    backend = backend or resolve_backend(config.backend)
    workdir = _workdir(base, name)
    nonce = secrets.token_hex(16)
    payload = json.dumps(
        {
            "nonce": nonce,
            "program": program,
            "tests": tests,
            "entry_point": entry_point,
            "limits": _limits(config, backend),
            "block_sockets": backend == "plain",
        }
    ).encode()
    read_fd, write_fd = os.pipe()
    python = [sys.executable, "-I", "-B", *([] if config.site_packages else ["-S"]), "-c", HARNESS, str(write_fd)]
    command, inside = _command(backend, workdir, python)
    started = time.monotonic()
    timed_out = False
    with tempfile.TemporaryFile(dir=base) as output:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                env=_environment(inside),
                cwd=workdir,
                start_new_session=True,
            )
        except OSError as error:
            os.close(read_fd)
            os.close(write_fd)
            _remove(workdir)
            return ExecutionResult("error", f"the sandbox did not start: {error}")
        os.close(write_fd)
        try:
            process.communicate(payload, timeout=config.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
        seconds = time.monotonic() - started
        output.seek(0)
        text = output.read(config.output_bytes).decode("utf-8", errors="replace")
    report = _read_report(read_fd)
    _remove(workdir)
    return _verdict(report, nonce, process.returncode, timed_out, config, text, seconds)


def _verdict(
    report: dict | None,
    nonce: str,
    returncode: int,
    timed_out: bool,
    config: SandboxConfig,
    output: str,
    seconds: float,
) -> ExecutionResult:
    if report is not None and report.get("status") == "passed":
        if report.get("nonce") == nonce:
            return ExecutionResult("passed", "", output, seconds)
        return ExecutionResult("error", "a completion report without the harness's nonce", output, seconds)
    if report is not None and report.get("status") in ("failed", "oom", "error"):
        return ExecutionResult(report["status"], str(report.get("detail", ""))[:500], output, seconds)
    if timed_out:
        return ExecutionResult("timeout", f"killed after {config.timeout_s:g} s wall clock", output, seconds)
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return ExecutionResult("timeout", "CPU time limit", output, seconds)
    return ExecutionResult("error", f"exited with code {returncode} before the tests finished", output, seconds)


# ---------------------------------------------------------------------------------------------- many runs


@dataclass(frozen=True)
class Job:
    """One program with its tests; ``entry_point`` names the function under test (may shadow a builtin)."""

    program: str
    tests: str
    entry_point: str | None = None

    def key(self) -> str:
        """The cache key: a hash of all three fields."""
        digest = hashlib.sha256()
        for part in (self.program, self.tests, self.entry_point or ""):
            data = part.encode("utf-8", errors="surrogatepass")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()


class CodeExecutor:
    """Run jobs in the sandbox, a bounded number at once, each distinct job once.

    Verdicts are cached by the job's hash (every status, as math verdicts are: a program that hangs would hang
    again). Safe to call from several threads: calls are serialised. Use as a context manager or call
    :meth:`close` to delete the temporary base directory; the cache stays.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.backend = resolve_backend(self.config.backend)
        self.runs = 0
        """Programs actually executed (cache misses)."""
        self._cache: OrderedDict[str, ExecutionResult] = OrderedDict()
        self._lock = threading.Lock()
        self._base: Path | None = None

    def protections(self) -> dict[str, str]:
        return protections(self.config)

    def close(self) -> None:
        if self._base is not None:
            _remove(self._base)
            self._base = None

    def __enter__(self) -> CodeExecutor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _base_dir(self) -> Path:
        if self._base is None:
            self._base = Path(tempfile.mkdtemp(prefix="rlvr-sandbox-"))
            self._base.chmod(0o711)  # the sandbox uid must reach its own work directory
        return self._base

    def run(self, jobs: Sequence[Job], progress: Callable[[int], None] | None = None) -> list[ExecutionResult]:
        """Verdicts for ``jobs``, in order; ``progress(count)`` as verdicts arrive."""
        with self._lock:
            keys = [job.key() for job in jobs]
            results: dict[str, ExecutionResult] = {}
            waiting: dict[str, Job] = {}
            for key, job in zip(keys, jobs, strict=True):
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    results[key] = cached
                elif key not in waiting:
                    waiting[key] = job
            copies = Counter(key for key in keys if key in waiting)
            if progress is not None and len(jobs) > sum(copies.values()):
                progress(len(jobs) - sum(copies.values()))
            if waiting:
                base = self._base_dir()
                with ThreadPoolExecutor(max_workers=self.config.resolved_workers()) as pool:
                    futures = {
                        pool.submit(
                            run_program,
                            job.program,
                            job.tests,
                            self.config,
                            base,
                            f"run{self.runs + i}",
                            self.backend,
                            job.entry_point,
                        ): key
                        for i, (key, job) in enumerate(waiting.items())
                    }
                    self.runs += len(waiting)
                    for future in as_completed(futures):
                        key = futures[future]
                        results[key] = future.result()
                        self._remember(key, results[key])
                        if progress is not None:
                            progress(copies[key])
            return [results[key] for key in keys]

    def _remember(self, key: str, result: ExecutionResult) -> None:
        if self.config.cache_size == 0:
            return
        self._cache[key] = result
        if len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)
