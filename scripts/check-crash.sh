#!/usr/bin/env bash
# Crash safety of the models folder: the release server is killed with SIGKILL at random
# moments while it trains (/train, /atrain), imports big maps (PUT ?replace=true) and deletes
# them, and uploads datasets of a few MB (.npy and CSV, PUT ?replace=true) and deletes them;
# after each restart every listed model must load in numpy and agree with its record
# (grid_shape, dim), every listed dataset likewise (rows, dim), no orphan, temporary or intent
# file may be left, and list / describe / download of every listed model must answer without
# 5xx. Prints the counts; exits non-zero on
# any problem. ROUNDS (default 20) sets the number of kills.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/python-venv.sh
python_venv numpy

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" - "$work" "${ROUNDS:-20}" <<'PY'
import io, json, os, pathlib, random, signal, socket, subprocess, sys, threading, time
import urllib.error, urllib.request
import numpy as np

work, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
models, logs = work / "models", work / "logs"
rng = random.Random(int(os.environ.get("SEED", time.time_ns())))
names = [f"n{i}" for i in range(3)]
maps = []
for shape in [(700, 700, 16), (600, 500, 16)]:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(1).random(shape))
    maps.append(buffer.getvalue())
colours = np.random.default_rng(2).random((10, 3)).round(3).tolist()
datasets = [f"d{i}" for i in range(2)]
uploads = []
for shape in [(100_000, 8), (60_000, 10)]:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(3).random(shape))
    uploads.append(buffer.getvalue())
table = np.random.default_rng(4).random((50_000, 6)).round(6)
uploads.append(("a,b,c,d,e,f\n" + "\n".join(",".join(map(str, row)) for row in table)).encode())

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
base = f"http://127.0.0.1:{port}"
problems = []
counts = {"rounds": 0, "kills": 0, "models checked": 0, "datasets checked": 0, "requests": 0}


def problem(text):
    problems.append(text)
    print("PROBLEM:", text, flush=True)


def request(method, path, body=None, timeout=60):
    """(status, body bytes), or (None, None) when the server is gone."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (OSError, urllib.error.URLError):
        return None, None


def start():
    log = open(logs / f"server-{counts['rounds']}.log", "wb")
    server = subprocess.Popen(
        ["target/release/kohonen", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--models-dir", str(models), "--logs-dir", str(logs)],
        stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if request("GET", "/health", timeout=2)[0] == 200:
            return server
        time.sleep(0.05)
    raise SystemExit("the server did not start")


def client(stop, kind):
    while not stop.is_set():
        name = rng.choice(names)
        if kind == "put":
            status, answer = request("PUT", f"/models/{name}?replace=true", rng.choice(maps))
        elif kind == "delete":
            status, answer = request("DELETE", f"/models/{name}")
            time.sleep(rng.uniform(0, 0.3))
        elif kind == "dataset put":
            dataset = rng.choice(datasets)
            status, answer = request("PUT", f"/datasets/{dataset}?replace=true", rng.choice(uploads))
        elif kind == "dataset delete":
            status, answer = request("DELETE", f"/datasets/{rng.choice(datasets)}")
            time.sleep(rng.uniform(0, 0.3))
        else:
            side = rng.choice([50, 200, 400])
            body = {"training_data": colours, "grid_shape": [side, side],
                    "max_iterations": rng.choice([5, 30])}
            status, answer = request("POST", "/" + kind, body)
            if kind == "atrain" and status == 200:
                job = json.loads(answer)["operation-location"]
                while not stop.is_set():
                    status, answer = request("GET", f"/jobs/{job}")
                    if status != 200 or json.loads(answer)["status"] not in ("queued", "running"):
                        break
                    time.sleep(0.1)
        if status is not None:
            counts["requests"] += 1
            if status >= 500:
                problem(f"{kind} answered {status}: {answer[:300]!r}")


def check_datasets():
    folder = models / "datasets"
    files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    for leftover in [f for f in files if f.startswith(".")]:
        problem(f"left behind: datasets/{leftover}")
    named, stored = set(), {}
    for f in files:
        if not f.endswith(".json"):
            continue
        record = json.loads((folder / f).read_text())
        named.add(record["data_file"])
        data = np.load(folder / record["data_file"], allow_pickle=False)
        counts["datasets checked"] += 1
        if data.dtype != np.dtype("<f8") or data.shape != (record["rows"], record["dim"]):
            problem(f"datasets/{f} says {record['rows']} x {record['dim']} but its data is "
                    f"{data.shape}, {data.dtype}")
        elif not np.isfinite(data).all():
            problem(f"datasets/{f}: its data holds non-finite values")
        stored[record["name"]] = (record["rows"], record["dim"])
    for orphan in [f for f in files if f.endswith(".npy") and f not in named]:
        problem(f"datasets/{orphan} is named by no record")
    status, listed = request("GET", "/datasets")
    if status != 200:
        return problem(f"/datasets answered {status}")
    listed = {d["name"]: (d["rows"], d["dim"]) for d in json.loads(listed)}
    if listed != stored:
        problem(f"/datasets lists {listed} but the folder holds {stored}")


def check():
    check_datasets()
    files = sorted(p.name for p in models.iterdir())
    for leftover in [f for f in files if f.startswith(".")]:
        problem(f"left behind: {leftover}")
    stored = {}
    for f in files:
        if f.endswith(".json") and not f.startswith("."):
            record = json.loads((models / f).read_text())
            name = f[: -len(".json")]
            if record["status"] == "succeeded" and f"{name}.npy" not in files:
                problem(f"{f} says succeeded but has no weights")
    for f in files:
        if not f.endswith(".npy") or f.startswith("."):
            continue
        name = f[: -len(".npy")]
        weights = np.load(models / f, allow_pickle=False)
        counts["models checked"] += 1
        if weights.ndim != 3 or weights.dtype != np.dtype("<f8"):
            problem(f"{f}: shape {weights.shape}, {weights.dtype}")
            continue
        record_file = models / f"{name}.json"
        if record_file.exists():
            record = json.loads(record_file.read_text())
            if (record["status"] != "succeeded" or record["grid_shape"] != list(weights.shape[:2])
                    or record["dim"] != weights.shape[2]):
                problem(f"{f} has shape {weights.shape} but its record says {record['status']}, "
                        f"{record['grid_shape']}, dim {record['dim']}")
                continue
        stored[name] = weights.shape
    status, listed = request("GET", "/list-of-models")
    if status != 200:
        return problem(f"/list-of-models answered {status}")
    listed = json.loads(listed)
    if sorted(listed) != sorted(stored):
        problem(f"listed {sorted(listed)} but the folder holds {sorted(stored)}")
    status, _ = request("GET", "/models")
    if status != 200:
        problem(f"/models answered {status}")
    for name in listed:
        status, described = request("GET", f"/models/{name}")
        if status != 200:
            problem(f"/models/{name} answered {status}")
        elif json.loads(described)["grid_shape"] != list(stored.get(name, (0, 0))[:2]):
            problem(f"/models/{name} describes {described[:200]!r}")
        status, body = request("GET", f"/download/{name}")
        if status != 200:
            problem(f"/download/{name} answered {status}")
        elif np.load(io.BytesIO(body), allow_pickle=False).shape != stored.get(name):
            problem(f"/download/{name} serves another shape")


models.mkdir()
logs.mkdir()
started = time.monotonic()
server = start()
for round in range(rounds):
    stop = threading.Event()
    kinds = ["put", "put", "delete", "delete", "train", "atrain", "dataset put", "dataset put",
             "dataset delete"]
    threads = [threading.Thread(target=client, args=(stop, kind)) for kind in kinds]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(0.2, 3.0))
    server.send_signal(signal.SIGKILL)
    server.wait()
    counts["kills"] += 1
    stop.set()
    for thread in threads:
        thread.join()
    counts["rounds"] += 1
    server = start()
    check()
server.send_signal(signal.SIGTERM)
server.wait()
seconds = time.monotonic() - started
# What the kills interrupted, as the restarted servers report it.
for key, line in [("intents finished", "finishing a change a crash interrupted"),
                  ("temporary files removed", "removing a temporary file left by a crash"),
                  ("dataset files removed", "removing a dataset file a crash left")]:
    counts[key] = sum(p.read_text(errors="replace").count(line) for p in logs.glob("server-*.log"))
summary = ", ".join(f"{value} {key}" for key, value in counts.items())
print(f"crash check: {summary}, {len(problems)} problems, {seconds:.0f} s")
sys.exit(1 if problems else 0)
PY
