"""Replicas of the release server on one PostgreSQL and one Garage bucket, for the scripts that
check or measure the cluster (check-cluster.sh, load-bench.sh --cluster). Python's standard
library only.

As a library: `Cluster(work, names).start()` starts the dependencies with cluster-deps.sh in
WORK/deps and one `kohonen serve` per name on a free loopback port; `Replica` kills, stops and
restarts one; `request()` is the HTTP client every script uses. As a command, for shell scripts:

    python3 scripts/cluster.py up WORK A B C   start; print one replica URL a line
    python3 scripts/cluster.py down WORK       stop the replicas (SIGTERM) and the dependencies

Every replica logs to WORK/NAME.log (appended across restarts), which `tails()` prints.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "kohonen"
DEPS = ROOT / "scripts" / "cluster-deps.sh"


def request(method, url, body=None, timeout=30):
    """(status, body bytes) of one request; (None, reason) when no answer came.

    A dict or list body is sent as JSON text without a Content-Type, as the Python client does.
    """
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (OSError, urllib.error.URLError) as err:
        return None, str(err).encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env(path):
    """The variables of the `export NAME=VALUE` lines cluster-deps.sh writes."""
    env = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = value
    return env


class Replica:
    """One `kohonen serve` with its own port, folders and log, on the cluster's database and
    store; its port stays the same across restarts, so clients keep their URL."""

    def __init__(self, name, work, deps_env, flags):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / f"{name}.log"
        self.command = [
            str(BINARY), "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--database-url", deps_env["KOHONEN_TEST_DATABASE_URL"],
            "--store", deps_env["KOHONEN_TEST_STORE"], "--replica-id", name,
            "--models-dir", str(work / name / "models"), "--logs-dir", str(work / name / "logs"),
            *flags,
        ]
        self.env = {**os.environ, **{k: v for k, v in deps_env.items() if k.startswith("AWS_")}}
        self.process = None

    def start(self, detached=False, deadline=60):
        """Starts the server and waits until its /health answers 200."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=detached)
        until = time.monotonic() + deadline
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited with {self.process.returncode} "
                                   f"at start:\n{tail(self.log)}")
            if request("GET", f"{self.url}/health", timeout=2)[0] == 200:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"replica {self.name} did not answer 200 on /health within "
                           f"{deadline} s:\n{tail(self.log)}")

    def signal(self, number):
        self.process.send_signal(number)

    def wait(self, timeout):
        """The exit code, or None if the process is still running after `timeout` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL after the grace period; nothing of it is left running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        if self.wait(40) is None:
            self.signal(signal.SIGKILL)
            self.process.wait()


def tail(path, lines=25):
    """The last lines of a log but for the one each answered request writes, which would
    crowd out the events that tell what went wrong."""
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError as err:
        return f"({err})"
    events = [line for line in text.splitlines() if "on_response: finished processing" not in line]
    return "\n".join(events[-lines:])


class Cluster:
    """The dependencies in WORK/deps and one replica per name, all stopped by `stop()`."""

    def __init__(self, work, names, flags=()):
        self.work = pathlib.Path(work)
        self.names = names
        self.flags = list(flags)
        self.deps = self.work / "deps"
        self.replicas = {}
        self.deps_env = {}

    def start(self, detached=False):
        self.work.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as its own user (cluster-deps.sh), which must reach WORK/deps: WORK is
        # often a root-only `mktemp -d`.
        self.work.chmod(0o755)
        # Its lines go to stderr, so that `up` prints nothing but the replicas' URLs.
        subprocess.run(["bash", str(DEPS), "start", str(self.deps)], check=True,
                       stdout=sys.stderr)
        self.deps_env = read_env(self.deps / "env")
        for name in self.names:
            self.replicas[name] = Replica(name, self.work, self.deps_env, self.flags)
            self.replicas[name].start(detached)
        return self

    def deps_command(self, command):
        """Runs `cluster-deps.sh COMMAND` on this cluster's dependencies (pg-stop, pg-start)."""
        subprocess.run(["bash", str(DEPS), command, str(self.deps)], check=True)

    def stop(self):
        for replica in self.replicas.values():
            replica.stop()
        if self.deps.exists():
            self.deps_command("stop")

    def tails(self):
        return "\n".join(f"--- {r.log} (last lines but answered requests)\n{tail(r.log)}"
                         for r in self.replicas.values())


def main(argv):
    if len(argv) >= 3 and argv[0] == "up":
        work = pathlib.Path(argv[1])
        cluster = Cluster(work, argv[2:])
        try:
            cluster.start(detached=True)
        except BaseException:
            cluster.stop()
            raise
        (work / "replicas.json").write_text(json.dumps(
            {name: r.process.pid for name, r in cluster.replicas.items()}))
        for replica in cluster.replicas.values():
            print(replica.url)
    elif len(argv) == 2 and argv[0] == "down":
        work = pathlib.Path(argv[1])
        pids = json.loads((work / "replicas.json").read_text()) if (
            work / "replicas.json").exists() else {}
        for pid in pids.values():
            stop_pid(pid)
        subprocess.run(["bash", str(DEPS), "stop", str(work / "deps")], check=True)
    else:
        sys.exit(__doc__)


def stop_pid(pid):
    """SIGTERM a detached replica and wait for it to go; SIGKILL after 40 s."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    until = time.monotonic() + 40
    while time.monotonic() < until:
        if not alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def alive(pid):
    """Whether the process runs; one that exited but is not yet reaped (its parent, this
    script's earlier run, is gone) counts as gone."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


if __name__ == "__main__":
    main(sys.argv[1:])
