"""The sandbox a program runs in: isolation backends, their probe, resource limits and the command line.

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

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rlvr_lab.runtime.threads import available_cpus

BACKENDS = ("bwrap", "unshare", "plain")
SANDBOX_UID = 65534
"""``nobody``: the uid a program runs as when the grader runs as root."""
PROBE_TIMEOUT_S = 30.0
REPORT_LIMIT = 65536
HARNESS = (Path(__file__).with_name("sandbox_harness.py")).read_text(encoding="utf-8")
BWRAP_WORKDIR = "/tmp/work"
"""Where bwrap shows the program its work directory (inside its private ``/tmp``)."""
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
        return self.workers if self.workers is not None else min(4, available_cpus())


def _is_root() -> bool:
    return os.geteuid() == 0


def _drop_privileges(root: bool | None = None) -> list[str]:
    """The ``setpriv`` prefix that turns root into nobody; empty when not root (``root``: this process's euid is 0,
    asked of the system when None)."""
    if not (_is_root() if root is None else root):
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


def _command(backend: str, workdir: Path, python: list[str], root: bool | None = None) -> tuple[list[str], str]:
    """The argv that runs ``python`` (an argv) in ``workdir`` under ``backend``, and the work directory as the
    program sees it. ``root`` (asked of the system when None) is a parameter so that the command lines of both
    users can be checked on one machine."""
    work = str(workdir)
    root = _is_root() if root is None else root
    drop = _drop_privileges(root)
    if backend == "bwrap":
        # The work directory is bound at a fixed path in the private /tmp: bound at its host path, its parents
        # would be root-only directories bwrap creates, so the program (nobody) could use it as its cwd but not
        # reach it by name (its $HOME).
        inner = BWRAP_WORKDIR
        env = _environment(inner)
        setenv = [arg for key, value in env.items() for arg in ("--setenv", key, value)]
        user = [] if root else ["--unshare-user"]
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
            "--bind", work, inner,
            "--chdir", inner,
            "--clearenv", *setenv,
            "--", *drop, *python,
        ], inner  # fmt: skip
    if backend == "unshare":
        spaces = ["--net", "--pid", "--ipc", "--uts", "--mount", "--fork", "--kill-child", "--mount-proc"]
        if root:
            return ["unshare", *spaces, "sh", "-c", _UNSHARE_SCRIPT, "sh", work, *drop, *python], "/tmp"
        return ["unshare", "--user", "--map-root-user", *spaces, *python], work
    return [*drop, *python], work


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


def _workdir(base: Path, name: str) -> Path:
    """A fresh directory the program may write (owned by the sandbox uid when running as root)."""
    path = base / name
    path.mkdir(mode=0o700)
    if _is_root():
        os.chown(path, SANDBOX_UID, SANDBOX_UID)
    return path


def sandbox_python(backend: str, site_packages: bool, executable: str = sys.executable) -> str:
    """The interpreter the sandboxed program runs under. The namespace backends give the program its own ``/tmp``,
    which hides an interpreter that lives there (a clone or venv under ``/tmp``): then the interpreter the venv was
    made from, which runs the harness as well because it needs only the standard library (``-S``). A program that
    asks for site-packages cannot have them from a hidden venv: refused, naming what to do."""
    if backend == "plain" or not Path(executable).is_relative_to("/tmp"):
        return executable
    real = os.path.realpath(executable)
    if site_packages or Path(real).is_relative_to("/tmp"):
        raise RuntimeError(
            f"the {backend} sandbox gives programs a private /tmp, which hides this interpreter ({executable}); "
            "put the project (and its .venv) outside /tmp, or use --sandbox plain"
        )
    return real


@cache
def _probe(backend: str) -> str:
    """Empty if ``backend`` can run the harness's python here, else why not."""
    with tempfile.TemporaryDirectory(prefix="rlvr-probe-") as base:
        Path(base).chmod(0o711)
        workdir = _workdir(Path(base), "probe")
        try:
            interpreter = sandbox_python(backend, site_packages=False)
        except RuntimeError as error:
            return str(error)
        command, _ = _command(backend, workdir, [interpreter, "-I", "-S", "-c", "import math"])
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
