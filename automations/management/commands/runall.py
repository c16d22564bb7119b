import os
import signal
import subprocess
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chronoflow import processes


class Stop(Exception):
    """Raised by the SIGINT/SIGTERM handler to leave the wait loop."""


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


class Command(BaseCommand):
    help = "Start web, worker and beat together (the embedded default). Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host: str, port: int, **options):
        # Explicit handlers: a shell starting us in the background may have set SIGINT to
        # "ignore", and then Python would never raise KeyboardInterrupt.
        signal.signal(signal.SIGINT, _raise_stop)
        signal.signal(signal.SIGTERM, _raise_stop)
        commands = {
            "web": processes.web_command(host, port),
            "worker": processes.worker_command(),
            "beat": processes.beat_command(),
        }
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(self.style.SUCCESS(
            f"ChronoFlow is up: http://{host}:{port}/admin/ (API at /api/, health at /health). Ctrl-C stops it."
        ))
        try:
            exited = self._wait_for_first_exit(children)
        except Stop:
            self.stdout.write("Stopping web, worker and beat...")
            self._stop(children)
            return
        self._stop(children)
        # One process dying takes the others down: a half-running ChronoFlow hides failures.
        raise CommandError(f"{exited} stopped (exit {children[exited].returncode}); stopped the others too.")

    def _wait_for_first_exit(self, children: dict) -> str:
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    return name
            time.sleep(0.5)

    def _stop(self, children: dict) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
