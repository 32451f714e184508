"""Starts the assistant on this machine: action server, then Rasa.

    python -m scripts.run            # REST and socket.io channels on :5005
    python -m scripts.run --shell    # the action server plus `rasa shell`

Waits until both servers answer, prints where to talk to the bot, and on
Ctrl-C (or when either process dies) stops the others cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 180
STOP_TIMEOUT = 15


def wait_until_up(url: str, processes: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.args[0]} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shell", action="store_true", help="chat in this terminal")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    parser.add_argument(
        "--actions-port", type=int, default=int(os.environ.get("ACTIONS_PORT", 5055))
    )
    args = parser.parse_args()
    (PROJECT / "var").mkdir(exist_ok=True)

    rasa = str(BIN / "rasa")
    actions_health = f"http://127.0.0.1:{args.actions_port}/health"
    processes: list[subprocess.Popen] = []
    try:
        # `make shell` next to `make run` shares the running action server.
        if not (args.shell and answers(actions_health)):
            processes.append(
                subprocess.Popen(
                    [
                        rasa,
                        "run",
                        "actions",
                        "--actions",
                        "actions",
                        "--port",
                        str(args.actions_port),
                    ],
                    cwd=PROJECT,
                )
            )
            wait_until_up(actions_health, processes, STARTUP_TIMEOUT)
        common = ["--model", "models", "--endpoints", "endpoints.yml"]
        if args.shell:
            port = args.port + 1 if answers(f"http://127.0.0.1:{args.port}/") else args.port
            shell = subprocess.Popen([rasa, "shell", *common, "--port", str(port)], cwd=PROJECT)
            processes.append(shell)
            return shell.wait()
        server = subprocess.Popen(
            [
                rasa,
                "run",
                *common,
                "--credentials",
                "credentials.yml",
                "--port",
                str(args.port),
                "--cors",
                "*",
            ],
            cwd=PROJECT,
        )
        processes.append(server)
        wait_until_up(f"http://127.0.0.1:{args.port}/", processes, STARTUP_TIMEOUT)
        print(
            "\nThe assistant is up.\n"
            f"  REST:      POST http://localhost:{args.port}/webhooks/rest/webhook "
            '{"sender": "me", "message": "你好"}\n'
            f"  socket.io: http://localhost:{args.port}/socket.io\n"
            "  terminal:  make shell (in another terminal)\n"
            "  tracker store: var/tracker.db\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = next(p for p in processes if p.poll() is not None)
        print(
            f"{failed.args[0]} {failed.args[1]} stopped with status {failed.returncode}",
            file=sys.stderr,
        )
        return failed.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
