import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from chronoflow import processes


# What each process prints once it is up (web: it answers /health).
READY = {"worker": " ready.", "beat": "beat: Starting"}


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # it answers (a 503 means a dependency is down: /health says which)
    except OSError:
        return False
    return True


class Stop(Exception):
    """Raised by the SIGINT/SIGTERM handler to leave the wait loop."""


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


class Command(BaseCommand):
    help = ("Start web, worker and beat together (the embedded default), creating the admin user if needed; "
            "ends its start-up output with the URL and how to log in. Ctrl-C stops all three.")

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
        login = StringIO()
        call_command("ensure_admin", stdout=login)  # its password must not scroll away under the banners
        children = {name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                           bufsize=1) for name, cmd in commands.items()}
        started = {name: threading.Event() for name in READY}
        for name, child in children.items():
            threading.Thread(target=self._relay, args=(child, READY.get(name), started.get(name)), daemon=True).start()
        try:
            self._wait_until_up(host, port, children, started)
            self.stdout.write(self.style.SUCCESS(
                f"\nChronoFlow is up: http://{host}:{port}/admin/ (API at /api/, health at /health). Ctrl-C stops it."))
            self.stdout.write(login.getvalue().strip() + "\n")
            exited = self._wait_for_first_exit(children)
        except Stop:
            self.stdout.write("Stopping web, worker and beat...")
            self._stop(children)
            return
        self._stop(children)
        # One process dying takes the others down: a half-running ChronoFlow hides failures.
        raise CommandError(f"{exited} stopped (exit {children[exited].returncode}); stopped the others too.")

    def _relay(self, child: subprocess.Popen, marker: str | None, started: threading.Event | None) -> None:
        """Pass a child's output on, noting the line that says it has started."""
        for line in child.stdout:
            self.stdout.write(line, ending="")
            self.stdout.flush()
            if marker and marker in line:
                started.set()

    def _wait_until_up(self, host: str, port: int, children: dict, started: dict, timeout_s: float = 90) -> None:
        """Until the web answers and worker and beat say they started: the URL and login are printed last."""
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/health"
        deadline = time.monotonic() + timeout_s
        web_up = False
        while time.monotonic() < deadline and all(child.poll() is None for child in children.values()):
            web_up = web_up or _answers(url)
            if web_up and all(event.is_set() for event in started.values()):
                return
            time.sleep(0.3)

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
