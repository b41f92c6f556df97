"""Child processes for the bench scripts: free loopback ports, waiting until a server answers,
and stopping it again. Imported by the scripts beside this file."""

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]

    return port


def wait_until_ready(child: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll `url` until it answers 200; stop with the end of the child's log if it dies."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{url} did not start:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)

    raise SystemExit(f"{url} was not ready after {STARTUP_SECONDS:.0f} s; see {log}")


def stop(child: subprocess.Popen[bytes]) -> None:
    """Ctrl-C first, so the server closes its sessions and store; kill it if it hangs."""
    if child.poll() is not None:
        return

    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
