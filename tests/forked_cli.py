"""``python -m bmrun`` (or another of bmrun's modules) for tests, forked from a process that has
already imported TensorFlow.

A fresh interpreter spends about 4 s importing TensorFlow, Keras and Hydra before a command does
anything, and the suite runs well over a hundred commands. :class:`CliServer` starts one helper
process per test worker that imports those libraries (through
:func:`bmrun.runtime.tfimport.import_tensorflow`, as the command does, and nothing of bmrun's
own state), then forks a child for each command. The child takes the command's working
directory, environment, ``PYTHONPATH`` and output files, runs ``bmrun``'s real entry point
(``runpy`` on ``bmrun.__main__``: preflight, Hydra, training, exit codes, signal handlers), runs
its ``atexit`` hooks and exits with the command's status. Nothing in it is shared with the test
process: it is a separate process with its own pid, signals and files, like ``subprocess``.

What a forked child cannot show is the interpreter's own start (environment read at import,
``PYTHONPATH`` site processing, TensorFlow's import-time logging): tests of those pass
``fresh=True`` to :func:`conftest.run_cli` and get a real new interpreter.

Protocol (a Unix socket pair): the test sends a JSON request with the stdout and stderr file
descriptors attached (``socket.send_fds``); the helper answers ``{"pid": ...}`` at once and
``{"exited": pid, "status": ...}`` when the child ends.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

_MAX = 1 << 20


def _child(request: dict, out_fd: int, err_fd: int) -> None:
    """In the forked child: become ``python -m MODULE ARGS`` and exit with its status."""
    import atexit
    import runpy
    import traceback

    code = 1
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.setpgid(0, 0)  # like a shell job: a signal to the test's worker never reaches it
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
        sys.path[:0] = extra + [request["cwd"]]  # what `python -m` puts first
        sys.argv = [sys.executable, *request["argv"]]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            runpy.run_module(request.get("module", "bmrun"), run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if not isinstance(stop.code, (int, type(None))):
                print(stop.code, file=sys.stderr)
        except KeyboardInterrupt:  # uncaught: the interpreter ends itself with SIGINT
            traceback.print_exc()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:  # what the interpreter prints for an uncaught exception
            traceback.print_exc()
            code = 1
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def serve(channel: socket.socket) -> None:
    """The helper's loop: fork a child per request, report each child's end."""
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    children: set = set()
    while True:
        for _ in selector.select(timeout=0.02):
            message, fds, _, _ = socket.recv_fds(channel, _MAX, 2)
            if not message:
                return  # the test worker is gone
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                channel.close()
                _child(request, *fds)
            for fd in fds:
                os.close(fd)
            children.add(pid)
            channel.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                channel.sendall(json.dumps({"exited": pid, "status": code}).encode() + b"\n")


class ForkedProcess:
    """What tests use of :class:`subprocess.Popen`, for a command the helper forked.

    ``stdout`` and ``stderr`` are files; :meth:`communicate` returns their text once the command
    ended (so a grandchild that keeps them open never blocks a test).
    """

    def __init__(self, server: "CliServer", pid: int, out, err, args: list[str]):
        self.server, self.pid, self.args = server, pid, args
        self._out, self._err = out, err
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            self.returncode = self.server.status(self.pid, block=False)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.time() + timeout
        while self.poll() is None:
            if deadline is not None and time.time() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self.server.status(self.pid, block=True, timeout=0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: Optional[float] = None) -> tuple[str, str]:
        try:
            self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.wait()
            raise
        return self.output()

    def output(self) -> tuple[str, str]:
        texts = []
        for handle in (self._out, self._err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
            handle.close()
        return texts[0], texts[1]


class CliServer:
    """One helper process (see the module's docstring); :meth:`start` forks a command from it."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        code = ("import socket, sys; sys.path.insert(0, sys.argv[2]); sys.path.insert(0, sys.argv[3]); "
                "from bmrun.runtime.tfimport import import_tensorflow; import_tensorflow(); "
                "import hydra, omegaconf, rich, numpy; "
                "from forked_cli import serve; serve(socket.socket(fileno=int(sys.argv[1])))")
        here = Path(__file__).resolve().parent
        env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
        self.process = subprocess.Popen([sys.executable, "-c", code, str(theirs.fileno()), str(here.parent),
                                         str(here)], pass_fds=[theirs.fileno()], env={**env, "PYTHONUNBUFFERED": "1"},
                                        stdin=subprocess.DEVNULL)
        theirs.close()
        self.channel = ours
        self._buffer = b""
        self._ended: dict = {}

    def start(self, args: list[str], cwd: Path, env: dict, module: str = "bmrun") -> ForkedProcess:
        """``python -m MODULE ARGS`` in ``cwd`` with exactly the environment ``env``."""
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # nameless: gone once closed
        request = json.dumps({"module": module, "argv": list(args), "cwd": str(Path(cwd).resolve()),
                              "env": env}).encode()
        socket.send_fds(self.channel, [request], [out.fileno(), err.fileno()])
        while True:
            message = self._next(block=True, timeout=None)
            if "pid" in message:
                return ForkedProcess(self, message["pid"], out, err, list(args))
            self._ended[message["exited"]] = message["status"]

    def status(self, pid: int, *, block: bool, timeout: Optional[float] = None) -> Optional[int]:
        """The exit status of ``pid`` (negative: killed by that signal), or None while it runs."""
        if pid not in self._ended:
            message = self._next(block=block, timeout=timeout)
            if message is not None:
                self._ended[message["exited"]] = message["status"]
        return self._ended.get(pid)

    def _next(self, *, block: bool, timeout: Optional[float]) -> Optional[dict]:
        while b"\n" not in self._buffer:
            self.channel.settimeout(timeout if block else 0.0)
            try:
                chunk = self.channel.recv(65536)
            except (BlockingIOError, socket.timeout):
                return None
            if not chunk:
                raise RuntimeError(f"the forked-CLI helper died (exit {self.process.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        self.channel.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
