"""A sandbox for untrusted programs: run a program and its tests, get a verdict as data, never an exception.

Each (program, tests) pair runs in its own subprocess, in a fresh temporary directory, with a clean environment,
under a wall-clock timeout after which its whole process group is killed (SIGKILL), and with resource limits
(soft = hard) on CPU time, address space, file size, open files and processes. The harness inside
(:mod:`rlvr_lab.grading.sandbox_harness`) reports on a private pipe; a program passes only when that report
carries a random nonce, which the harness writes after the last test and which the program never sees (it is
read from standard input before the program runs, and standard input is then replaced by ``/dev/null``). So an
exit code alone is never trusted: ``sys.exit(0)``, ``os._exit(0)``, a signal or a replaced harness is ``error``.

The isolation itself (backends, probing, limits, what it does not protect against) is :mod:`.sandbox`.
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
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rlvr_lab.grading.cache import VerdictCache
from rlvr_lab.grading.sandbox import (
    HARNESS,
    REPORT_LIMIT,
    SandboxConfig,
    _command,
    _environment,
    _limits,
    _workdir,
    protections,
    resolve_backend,
    sandbox_python,
)
from rlvr_lab.grading.verdict import CodeStatus


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
    interpreter = sandbox_python(backend, config.site_packages)
    python = [interpreter, "-I", "-B", *([] if config.site_packages else ["-S"]), "-c", HARNESS, str(write_fd)]
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
        self._cache: VerdictCache[str, ExecutionResult] = VerdictCache(self.config.cache_size)
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
                        self._cache.put(key, results[key])
                        if progress is not None:
                            progress(copies[key])
            return [results[key] for key in keys]
