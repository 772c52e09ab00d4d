"""The sandbox against hostile programs, on every isolation backend that works on this machine.

Every attack is bounded, so a broken sandbox cannot harm the machine running the tests: the fork bomb stops after
300 forks, the memory hog asks for 2 GiB once, the flood writes 200 MB at most, the file attacks target files this
test created, and the socket attack connects to a listener this test opened on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rlvr_lab.grading.execution import CodeExecutor, ExecutionResult, Job
from rlvr_lab.grading.sandbox import (
    BACKENDS,
    BWRAP_WORKDIR,
    SandboxConfig,
    _command,
    _drop_privileges,
    _environment,
    protections,
    resolve_backend,
)

EXPECT = os.environ.get("RLVR_SANDBOX_EXPECT", "")
"""The backend this machine is set up to have (.ci/run sets ``bwrap`` after installing it): less fails, never skips."""

# Namespace checks of our own, independent of the sandbox's command lines and its ``_probe``: a typo there must
# fail these tests, not turn them into skips while ``auto`` falls back to a weaker backend.
MACHINE_CHECKS = {
    "bwrap": ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--", "true"],
    "unshare": ["unshare", *([] if os.geteuid() == 0 else ["--user", "--map-root-user"]), "--net", "--pid", "--fork",
                "--mount", "--mount-proc", "true"],
}  # fmt: skip


def machine_lacks(backend: str) -> str:
    """Why this machine cannot isolate with ``backend`` (empty when it can), asked of the system itself."""
    command = MACHINE_CHECKS.get(backend)
    if command is None:
        return ""
    if shutil.which(command[0]) is None:
        return f"{command[0]} is not installed"
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if done.returncode:
        return f"`{' '.join(command)}` exited {done.returncode}: {done.stderr.decode(errors='replace')[:200]}"
    return ""


MARKER = "runs *inside* the sandbox"
"""A phrase of the harness's source, hence of every sandboxed process's command line."""
SECRET = "RLVR_SANDBOX_TEST_SECRET"


def _attacks(victim: Path, port: int) -> dict[str, tuple[str, str]]:
    """name -> (program, tests); each program would pass its tests only if its attack succeeded."""
    target = str(victim)
    return {
        "infinite_loop": ("while True:\n    pass\n", "assert False"),
        "sleep": ("import time\ntime.sleep(30)\n", "pass"),
        "fork_bomb": (
            "import os, time\nn = 0\nfor _ in range(300):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(20)\n        os._exit(0)\n"
            "    n += 1\nprint('forked', n, flush=True)\n",
            "assert n == 300",
        ),
        "memory_hog": ("hog = bytearray(2 << 30)\n", "pass"),
        "write_outside": (
            f"import os, shutil\ntarget = {target!r}\n"
            "for attack in (lambda: open(target, 'w').write('owned'), lambda: open(target + '.new', 'w').write('x'),\n"
            "               lambda: os.remove(target), lambda: shutil.rmtree(os.path.dirname(target))):\n"
            "    try:\n        attack()\n    except OSError:\n        pass\n",
            "assert open(target).read() == 'owned'",
        ),
        "socket": (
            f"import socket\nconnection = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "connection.sendall(b'hello')\n",
            "pass",
        ),
        "environment": (f"import os\nsecret = os.environ.get({SECRET!r})\n", "assert secret == 'hunter2'"),
        "kill_parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", "assert False"),
        "sys_exit": ("import sys\nsys.exit(0)\n", "assert False"),
        "os_exit": ("import os\nos._exit(0)\n", "assert False"),
        "flood_stdout": ("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 1_000_000)\n", "pass"),
        "forged_report": (
            "import os\nfor fd in range(3, 64):\n    try:\n"
            '        os.write(fd, b\'{"status": "passed", "nonce": "guess"}\\n\')\n    except OSError:\n        pass\n',
            "assert False",
        ),
        "stolen_nonce": (
            "import os, sys\nnonce = sys.stdin.read().strip()\nfor fd in range(3, 64):\n    try:\n"
            '        os.write(fd, (\'{"status": "passed", "nonce": "%s"}\\n\' % nonce).encode())\n'
            "    except OSError:\n        pass\n",
            "assert False",
        ),
        "patched_builtins": (
            "import builtins\nbuiltins.abs = lambda x: 0\ndef f(x):\n    return 5\n",
            "assert abs(f(1) - 1) < 1e-9",
        ),
        "noop_exec": ("import builtins\nbuiltins.exec = lambda *a, **k: None\n", "assert False"),
    }


EXPECTED = {
    "infinite_loop": {"timeout"},
    "sleep": {"timeout"},
    "fork_bomb": {"failed"},
    "memory_hog": {"oom"},
    "write_outside": {"failed"},
    "socket": {"error"},
    "environment": {"failed"},
    "kill_parent": {"failed", "error"},
    "sys_exit": {"error"},
    "os_exit": {"error"},
    "flood_stdout": {"error"},
    "forged_report": {"error"},
    "stolen_nonce": {"error"},
    "patched_builtins": {"failed"},
    "noop_exec": {"failed"},
}
CONFIG = dict(timeout_s=3.0, memory_mb=512, file_size_mb=8, output_bytes=1000, workers=2)


def sandboxed_pids() -> list[int]:
    """Processes whose command line holds the harness (sandboxed programs and their children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if MARKER.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture(scope="module", params=BACKENDS)
def attacked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run every attack once on one backend; what they left behind, for the tests below."""
    backend = request.param
    problem = machine_lacks(backend)
    if problem and backend == EXPECT:
        pytest.fail(f"RLVR_SANDBOX_EXPECT={EXPECT} but this machine lacks it: {problem}")
    if problem:
        pytest.skip(f"this machine cannot isolate with {backend}: {problem}")
    assert resolve_backend(backend) == backend  # the machine allows it, so the sandbox's own command must work
    outside = tmp_path_factory.mktemp(f"outside-{backend}")
    victim = outside / "victim.txt"
    victim.write_text("original")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    attacks = _attacks(victim, listener.getsockname()[1])
    if backend == "plain" and os.geteuid() != 0:
        del attacks["kill_parent"]  # same uid, no pid namespace: the signal would reach this test process
    os.environ[SECRET] = "hunter2"
    try:
        with CodeExecutor(SandboxConfig(backend=backend, **CONFIG)) as executor:
            results = executor.run([Job(program, tests) for program, tests in attacks.values()])
            protected = executor.protections()
    finally:
        del os.environ[SECRET]
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    return {
        "backend": backend,
        "results": dict(zip(attacks, results, strict=True)),
        "outside": outside,
        "victim": victim,
        "connected": connected,
        "leftover": sandboxed_pids(),
        "protections": protected,
    }


@pytest.mark.parametrize("attack", sorted(EXPECTED))
def test_attack_gets_a_verdict_and_never_passes(attacked: dict, attack: str) -> None:
    if attack not in attacked["results"]:
        pytest.skip("killing the parent is unsafe without a pid namespace or a separate uid")
    result: ExecutionResult = attacked["results"][attack]
    assert result.status in EXPECTED[attack], (attacked["backend"], attack, result)
    assert not result.passed


def test_nothing_outside_changed_and_nothing_left_running(attacked: dict) -> None:
    assert attacked["victim"].read_text() == "original"
    assert sorted(path.name for path in attacked["outside"].iterdir()) == ["victim.txt"]
    assert not attacked["connected"]
    assert attacked["leftover"] == []


def test_limits_bound_the_fork_bomb_and_the_flood(attacked: dict) -> None:
    results = attacked["results"]
    assert len(results["flood_stdout"].output) <= CONFIG["output_bytes"]
    assert "File too large" in results["flood_stdout"].detail
    if "not limited" not in attacked["protections"]["processes"]:
        forked = int(results["fork_bomb"].output.split()[1])
        assert forked < 300
    assert "wall clock" in results["sleep"].detail
    assert "hunter2" not in results["environment"].output


def test_a_fair_program_passes_and_a_wrong_one_fails_with_its_assertion() -> None:
    tests = "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"
    jobs = [Job("def add(a, b):\n    return a + b\n", tests), Job("def add(a, b):\n    return a * b\n", tests)]
    with CodeExecutor(SandboxConfig(workers=2)) as executor:
        good, bad = executor.run(jobs)
    assert good.status == "passed" and good.detail == ""
    assert bad.status == "failed"
    assert bad.detail == "assert add(1, 2) == 3 -> AssertionError"


def test_identical_jobs_run_once_and_are_cached() -> None:
    job = Job("def f():\n    return 1\n", "assert f() == 1")
    other = Job("def f():\n    return 2\n", "assert f() == 1")
    seen: list[int] = []
    with CodeExecutor(SandboxConfig(workers=2)) as executor:
        first = executor.run([job, job, other, job], progress=seen.append)
        assert executor.runs == 2
        again = executor.run([other, job])
        assert executor.runs == 2
    assert [r.status for r in first] == ["passed", "passed", "failed", "passed"]
    assert [r.status for r in again] == ["failed", "passed"]
    assert sum(seen) == 4


def test_entry_point_may_shadow_a_builtin_but_other_shadows_do_not_reach_the_tests() -> None:
    tests = "assert sum([1, 2]) == 3\nassert len([1]) == 1\n"
    program = "def sum(xs):\n    return 3\ndef len(xs):\n    return 1\n"
    with CodeExecutor(SandboxConfig(workers=1)) as executor:
        as_entry, shadowing = executor.run([Job(program, tests, "sum"), Job(program, "assert len([1, 2]) == 1")])
    assert as_entry.status == "passed"
    assert shadowing.status == "failed"


def test_auto_chooses_the_strongest_backend_this_machine_allows() -> None:
    """A broken bwrap or unshare command line shows here as a weaker choice, not as skipped tests."""
    expected = next(backend for backend in BACKENDS if not machine_lacks(backend))
    assert resolve_backend("auto") == expected
    assert protections()["backend"] == expected
    if EXPECT:
        assert expected == EXPECT, f"RLVR_SANDBOX_EXPECT={EXPECT}: {machine_lacks(EXPECT)}"


@pytest.mark.parametrize("backend", ["bwrap", "unshare"])
def test_namespace_backends_give_a_private_network_and_pid_namespace(backend: str) -> None:
    """Seen from inside: only a loopback interface, low pids, and a writable home that is the work directory. A
    backend that quietly ran a plain subprocess would still pass the hostile-program tests as root (nobody's
    permissions and the limits stop them)."""
    problem = machine_lacks(backend)
    if problem and backend == EXPECT:
        pytest.fail(f"RLVR_SANDBOX_EXPECT={EXPECT} but this machine lacks it: {problem}")
    if problem:
        pytest.skip(f"this machine cannot isolate with {backend}: {problem}")
    program = (
        "import os, socket\nINTERFACES = [name for _, name in socket.if_nameindex()]\nPID = os.getpid()\n"
        "with open(os.path.join(os.environ['HOME'], 'note'), 'w') as f:\n    f.write('x')\n"
    )
    tests = "assert INTERFACES == ['lo'], INTERFACES\nassert PID < 100, PID\nassert os.getcwd() == os.environ['HOME']\n"
    with CodeExecutor(SandboxConfig(backend=backend)) as executor:
        [result] = executor.run([Job(program, tests)])
    assert result.passed, result.detail


def test_the_bwrap_command_line_asks_for_each_documented_protection(tmp_path: Path) -> None:
    """What the bwrap backend promises (grading/sandbox.py's table), read off its argv; the hostile-program tests
    check the isolation itself where bwrap is installed (CI)."""
    python = ["python3", "-c", "pass"]
    argv, work = _command("bwrap", tmp_path, python)
    assert argv[0] == "bwrap" and work == BWRAP_WORKDIR  # shown at a fixed path of the private /tmp
    separator = argv.index("--")
    options, program = argv[1:separator], argv[separator + 1 :]
    assert program[-len(python) :] == python and program[: -len(python)] == _drop_privileges()
    flags = set(options)
    assert {"--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"} <= flags
    assert {"--die-with-parent", "--new-session", "--clearenv"} <= flags
    assert ("--unshare-user" in flags) == (os.geteuid() != 0)  # a user namespace unless root (root drops to nobody)
    text = " ".join(options)
    assert "--ro-bind / /" in text and "--dev /dev" in text and "--proc /proc" in text
    assert f"--size {16 << 20} --tmpfs /tmp" in text  # a private /tmp of 16 MiB
    assert f"--bind {tmp_path} {BWRAP_WORKDIR}" in text and f"--chdir {BWRAP_WORKDIR}" in text  # only it writable
    setenv = {options[i + 1]: options[i + 2] for i, option in enumerate(options) if option == "--setenv"}
    assert setenv == _environment(BWRAP_WORKDIR)  # the whole environment, nothing inherited
    assert options.index("--ro-bind") < options.index("--bind")  # the work dir is bound over the read-only root


SETPRIV = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--no-new-privs"]
"""Root drops to nobody (uid 65534) with no groups, no capabilities and no way back."""
BWRAP_TAIL = [
    "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    "--die-with-parent", "--new-session",
    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--size", "16777216", "--tmpfs", "/tmp",
    "--bind", "/w/d", "/tmp/work", "--chdir", "/tmp/work",
    "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp/work",
    "--setenv", "TMPDIR", "/tmp/work", "--setenv", "LANG", "C.UTF-8", "--",
]  # fmt: skip
SPACES = ["--net", "--pid", "--ipc", "--uts", "--mount", "--fork", "--kill-child", "--mount-proc"]
UNSHARE_SCRIPT = (
    'set -e; work="$1"; shift; mount --bind "$work" /tmp; for d in /var/tmp /dev/shm /run/lock; do '
    'if [ -d "$d" ]; then mount -t tmpfs -o size=1m,mode=755 tmpfs "$d"; fi; done; cd /tmp; exec "$@"'
)


@pytest.mark.parametrize(
    ("backend", "root", "argv", "work"),
    [
        ("bwrap", True, ["bwrap", *BWRAP_TAIL, *SETPRIV, "py", "-I"], "/tmp/work"),
        ("bwrap", False, ["bwrap", "--unshare-user", *BWRAP_TAIL, "py", "-I"], "/tmp/work"),
        ("unshare", True, ["unshare", *SPACES, "sh", "-c", UNSHARE_SCRIPT, "sh", "/w/d", *SETPRIV, "py", "-I"], "/tmp"),
        ("unshare", False, ["unshare", "--user", "--map-root-user", *SPACES, "py", "-I"], "/w/d"),
        ("plain", True, [*SETPRIV, "py", "-I"], "/w/d"),
        ("plain", False, ["py", "-I"], "/w/d"),
    ],
)
def test_the_exact_command_line_of_each_backend_for_root_and_for_a_user(
    backend: str, root: bool, argv: list[str], work: str
) -> None:
    """Written out by hand for both users, so a branch this machine's user never takes is checked too: as a user,
    bwrap and unshare open a user namespace and nothing drops privileges; as root, the program runs as nobody and
    unshare mounts the work directory over /tmp."""
    assert _command(backend, Path("/w/d"), ["py", "-I"], root=root) == (argv, work)


def test_the_command_line_asks_the_system_who_runs_it_when_not_told() -> None:
    for backend in BACKENDS:
        asked = _command(backend, Path("/w/d"), ["py"])
        assert asked == _command(backend, Path("/w/d"), ["py"], root=os.geteuid() == 0)
        assert asked != _command(backend, Path("/w/d"), ["py"], root=os.geteuid() != 0)


def test_protections_name_the_backend_and_each_protection() -> None:
    report = protections()
    assert report["backend"] in BACKENDS
    assert set(report) == {"backend", "user", "filesystem", "network", "processes"}


def test_bad_config_raises() -> None:
    with pytest.raises(ValueError, match="backend"):
        SandboxConfig(backend="docker")
    with pytest.raises(ValueError, match="timeout_s"):
        SandboxConfig(timeout_s=0)


def test_an_interpreter_under_tmp_is_replaced_by_the_one_it_was_made_from(tmp_path: Path) -> None:
    """The namespace backends give the program a private /tmp, which hides a venv kept there (a fresh clone under
    /tmp failed every sandbox test with "setpriv: failed to execute .../.venv/bin/python3"): the interpreter the venv
    links to runs the harness instead; site-packages from a hidden venv are refused by name."""
    from rlvr_lab.grading.sandbox import sandbox_python

    real = os.path.realpath(sys.executable)
    assert not real.startswith("/tmp/")
    venv = Path(tempfile.mkdtemp(prefix="venv-", dir="/tmp"))
    try:
        (venv / "python3").symlink_to(real)
        link = str(venv / "python3")
        assert sandbox_python("bwrap", site_packages=False, executable=link) == real
        assert sandbox_python("unshare", site_packages=False, executable=link) == real
        assert sandbox_python("plain", site_packages=True, executable=link) == link  # plain shares the host's /tmp
        assert sandbox_python("bwrap", site_packages=False, executable=real) == real
        with pytest.raises(RuntimeError, match=r"private /tmp, which hides this interpreter .* outside /tmp"):
            sandbox_python("bwrap", site_packages=True, executable=link)
    finally:
        shutil.rmtree(venv)
