"""Code-execution verifier: run a completion's Python against assert tests in a sandboxed subprocess.

Covers: never in the caller's process; a fresh temp working directory, removed after; `python -I`
with an empty environment; wall-clock limit (process group killed), CPU-seconds, address-space and
written-file-size limits (rlimits); stdout/stderr discarded, so huge outputs cost nothing; no network
(a new network namespace via `unshare -rn` when the kernel allows it, checked once, plus an audit
hook that blocks sockets); an audit hook that blocks `os.system`, `subprocess`, `fork`/`exec`,
`ctypes`, `os.kill` and writes outside the temp directory. The reward is the fraction of tests passed.
Does not cover: a determined program that introspects the harness's own frames to forge its result
lines (they carry a random nonce it would have to find), side channels, CPU-heavy code that stays
under the limits. It is a guard against a policy model's accidents and cheap tricks, not a jail for
hostile code: run untrusted workloads in a container as well.
"""
from __future__ import annotations

import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
from functools import lru_cache

_HARNESS = r'''
import json, os, sys
def _main():
    nonce = sys.stdin.readline().strip()
    out = os.open("results.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    code = open("solution.py", encoding="utf-8").read()
    tests = json.load(open("tests.json", encoding="utf-8"))
    root = os.path.realpath(os.getcwd())
    blocked = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
               "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
               "socket.", "ctypes.", "os.remove", "os.rmdir", "shutil.rmtree", "os.chmod", "os.chown",
               "os.symlink", "os.link", "os.rename", "os.truncate", "webbrowser.open", "sys.addaudithook")
    def hook(event, args):
        if event.startswith(blocked):
            raise PermissionError("sandbox: " + event + " is blocked")
        if event == "open" and len(args) > 1 and isinstance(args[1], str) and set(args[1]) & set("wax+"):
            if not os.path.realpath(str(args[0])).startswith(root):
                raise PermissionError("sandbox: writing outside the working directory is blocked")
    sys.addaudithook(hook)
    ns = {"__name__": "__main__"}
    try:
        exec(compile(code, "solution.py", "exec"), ns)
    except BaseException:
        return
    for i, test in enumerate(tests):
        try:
            exec(compile(test, "test_%d" % i, "exec"), ns)
        except BaseException:
            continue
        os.write(out, ("%s %d ok\n" % (nonce, i)).encode())
_main()
'''


@lru_cache(maxsize=1)
def _network_isolation() -> list[str]:
    """`unshare -rn` prefix if this kernel lets an unprivileged user make a network namespace."""
    try:
        ok = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["unshare", "-rn"] if ok else []


def extract_code(completion: str) -> str | None:
    """The last ```python block after the thinking (inside `<answer>` if there is one), else the answer text.

    >>> extract_code("<think>```python\\nx=1\\n```</think><answer>```python\\ndef f():\\n    return 2\\n```</answer>")
    'def f():\\n    return 2\\n'
    """
    if not isinstance(completion, str):
        return None
    text = completion.split("</think>", 1)[1] if "</think>" in completion else completion
    if "<think>" in text:
        return None
    m = re.search(r"<answer>(.*?)</answer>", text, re.S)
    region = m.group(1) if m else text
    blocks = re.findall(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", region, re.S)
    if blocks:
        return blocks[-1]
    return region.strip() if m else None


def _limits(cpu_s: int, memory_mb: int, file_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_tests(code: str, tests: list[str], *, timeout_s: float = 5.0, memory_mb: int = 512,
              max_file_bytes: int = 1 << 20) -> float:
    """Fraction of `tests` (Python statements, usually asserts) that pass after running `code`.

    >>> run_tests("def add(a, b):\\n    return a + b", ["assert add(1, 2) == 3", "assert add(1, 1) == 3"])
    0.5
    >>> run_tests("import os\\nos.system('echo hi')", ["assert True"])
    0.0
    """
    if not tests:
        raise ValueError("run_tests: tests is empty; give at least one assert statement")
    if not isinstance(code, str) or not code.strip():
        return 0.0
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="reasonrl_sbx_") as tmp:
        for name, text in (("harness.py", _HARNESS), ("solution.py", code), ("tests.json", json.dumps(tests))):
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        cmd = _network_isolation() + [sys.executable, "-I", "-S", "harness.py"]
        proc = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "HOME": tmp},
                                start_new_session=True,
                                preexec_fn=_limits(int(timeout_s) + 1, memory_mb, max_file_bytes))
        try:
            proc.communicate((nonce + "\n").encode(), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _kill_group(proc)
        passed = _passed(os.path.join(tmp, "results.txt"), nonce, len(tests))
    return passed / len(tests)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _passed(path: str, nonce: str, n_tests: int) -> int:
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        data = f.read(1 << 20).decode("utf-8", "replace")
    ok = {int(m.group(1)) for m in re.finditer(rf"^{nonce} (\d+) ok$", data, re.M)}
    return len({i for i in ok if 0 <= i < n_tests})
