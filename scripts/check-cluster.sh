#!/usr/bin/env bash
# Several replicas act as one service (issue 14). Builds the release binary, starts a throwaway
# PostgreSQL and Garage (scripts/cluster-deps.sh, which installs what is missing) and three
# replicas A, B and C on them (--job-lease-seconds 6, --max-concurrent-jobs 1), then checks,
# one line each:
#   1. the Python client's flow (scripts/smoke.sh) against each replica;
#   2. a long job submitted to A, watched on B (running, a worker, progress moving), cancelled
#      from C: 202, then `cancelled` on all three within 2 s;
#   3. 50 parallel /atrain spread over the three: 50 distinct names, all succeed, all listed
#      by every replica;
#   4. kill -9 of the replica running a long job: another replica trains it again, and its
#      weights are byte-identical to an undisturbed run of the same request; the killed
#      replica is restarted;
#   5. PUT /models/X?replace=true through A: B serves the new weights (download and predict)
#      within 1 s;
#   6. SIGTERM of the replica running a long job: it exits at once, another replica completes
#      the job, with the same weights again;
#   7. PostgreSQL stopped for 3 s and started again while clients hammer /list-of-models,
#      /jobs, /health and /atrain on every replica: no 5xx but 503, no request left unanswered,
#      every replica answers 200 again without a restart, and the jobs accepted meanwhile and a
#      new one succeed;
#   8. every replica's /list-of-models is identical.
# Prints the counts (checks, jobs, answers by status, seconds per step). Exits non-zero when a
# check fails, after printing the tails of the replicas' logs (the folder is then kept).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
work=$(mktemp -d)
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=scripts python3 - "$work" <<'PY'
import collections, concurrent.futures, json, pathlib, shutil, signal, struct, subprocess, sys
import threading, time
from cluster import Cluster, request

work = pathlib.Path(sys.argv[1])
LEASE = 6
cluster = Cluster(work, ["A", "B", "C"],
                  ["--job-lease-seconds", str(LEASE), "--max-concurrent-jobs", "1"])
COLOURS = [[0.098, 0.788, 0.271], [0.173, 0.875, 0.188], [0.824, 0.6, 0.494],
           [0.835, 0.561, 0.651], [0.851, 0.745, 0.545], [0.067, 0.325, 0.635],
           [0.125, 0.565, 0.094], [0.824, 0.004, 0.612], [0.918, 0.859, 0.71],
           [0.38, 0.686, 0.71]]
# 10-25 s of training on the release binary on the 2-core machine this was written on:
# long enough to be watched, cancelled, killed and stopped mid-way.
LONG = {"training_data": COLOURS, "grid_shape": [500, 500], "max_iterations": 20000,
        "seed": 14}
SMALL = {"training_data": COLOURS, "grid_shape": [10, 10], "max_iterations": 50, "seed": 3}

answers = collections.Counter()  # status -> count, every request this check made
jobs = collections.Counter()  # step -> jobs submitted
seconds = {}  # step -> seconds it took


class Failed(Exception):
    pass


def expect(condition, text):
    if not condition:
        raise Failed(text)


counting = threading.Lock()


def count(counter, key):
    with counting:
        counter[key] += 1


def call(replica, method, path, body=None, timeout=30):
    status, answer = request(method, replica.url + path, body, timeout)
    count(answers, status if status is not None else "no answer")
    return status, answer


def submit(replica, body, step):
    status, answer = call(replica, "POST", "/atrain", body)
    expect(status == 200, f"/atrain on {replica.name} answered {status}: {answer[:300]!r}")
    count(jobs, step)
    return json.loads(answer)["operation-location"]


def job(replica, name):
    status, answer = call(replica, "GET", f"/jobs/{name}")
    expect(status == 200, f"/jobs/{name} on {replica.name} answered {status}: {answer[:300]!r}")
    return json.loads(answer)


def wait_job(replica, name, wanted, what, deadline, poll=0.05):
    """The first state of the job, as `replica` reports it, for which `wanted` holds."""
    until = time.monotonic() + deadline
    while True:
        state = job(replica, name)
        if wanted(state):
            return state
        expect(time.monotonic() < until,
               f"{name} on {replica.name}: not {what} within {deadline} s; last {state}")
        expect(state["status"] in ("queued", "running"),
               f"{name} on {replica.name}: ended {state['status']} before {what}; {state}")
        time.sleep(poll)


def succeeded(replica, name, deadline=180):
    return wait_job(replica, name, lambda j: j["status"] == "succeeded", "succeeded", deadline,
                    poll=0.2)


def download(replica, name):
    status, answer = call(replica, "GET", f"/download/{name}")
    expect(status == 200, f"/download/{name} on {replica.name} answered {status}")
    return answer


def listing(replica):
    status, answer = call(replica, "GET", "/list-of-models")
    expect(status == 200, f"/list-of-models on {replica.name} answered {status}")
    return json.loads(answer)


def others(*names):
    return [r for n, r in cluster.replicas.items() if n not in names]


def running_with_progress(replica, name, at_least):
    """Waits until `name` runs with progress >= at_least; returns its state."""
    return wait_job(replica, name,
                    lambda j: j["status"] == "running" and j.get("worker")
                    and j["progress"] >= at_least, f"running past {at_least:.0%}", 120)


def check_client_flow():
    for replica in cluster.replicas.values():
        run = subprocess.run(["bash", "scripts/smoke.sh", replica.url], capture_output=True,
                             text=True, timeout=300)
        expect(run.returncode == 0, f"smoke.sh against {replica.name} failed:\n"
                                    f"{run.stdout}{run.stderr}")
        jobs["1"] += 2
    return "scripts/smoke.sh passed against A, B and C"


def check_cancel_across_replicas():
    A, B, C = (cluster.replicas[n] for n in "ABC")
    name = submit(A, LONG, "2")
    first = wait_job(B, name, lambda j: j["status"] == "running" and j.get("worker"),
                     "running with a worker", 60)
    moved = wait_job(B, name, lambda j: j["progress"] > first["progress"],
                     "moving on", 20)
    status, answer = call(C, "DELETE", f"/jobs/{name}")
    expect(status == 202, f"DELETE /jobs/{name} on C answered {status}: {answer[:300]!r}")
    asked = time.monotonic()
    waiting = set("ABC")
    while waiting:
        for n in sorted(waiting):
            state = job(cluster.replicas[n], name)
            if state["status"] == "cancelled":
                waiting.discard(n)
            else:
                expect(state["status"] == "running",
                       f"{name} on {n} is {state['status']} after the cancel: {state}")
        expect(not waiting or time.monotonic() - asked < 2.0,
               f"{name} not cancelled on {sorted(waiting)} within 2 s of the DELETE")
        time.sleep(0.05)
    took = time.monotonic() - asked
    for replica in (A, B, C):
        status, _ = call(replica, "GET", f"/download/{name}")
        expect(status == 410, f"/download/{name} on {replica.name} answered {status}, not 410")
    return (f"ran on {first['worker']}, seen on B at {first['progress']:.2%} then "
            f"{moved['progress']:.2%}, DELETE on C 202, cancelled on A, B, C after {took:.2f} s")


def check_parallel_atrain():
    replicas = list(cluster.replicas.values())
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        names = list(pool.map(lambda i: submit(replicas[i % 3], SMALL, "3"), range(50)))
    expect(len(set(names)) == 50, f"{len(set(names))} distinct names among 50: {names}")
    for i, name in enumerate(names):
        succeeded(replicas[(i + 1) % 3], name)
    for replica in replicas:
        missing = set(names) - set(listing(replica))
        expect(not missing, f"{replica.name} does not list {sorted(missing)}")
    return "50 distinct names, all succeeded, all listed by A, B and C"


reference = {}  # the weights of an undisturbed run of LONG


def undisturbed_weights():
    if "weights" not in reference:
        A = cluster.replicas["A"]
        name = submit(A, LONG, "4")
        started = time.monotonic()
        succeeded(A, name)
        reference["seconds"] = time.monotonic() - started
        reference["weights"] = download(A, name)
    return reference["weights"]


def interrupt_running_job(number, submit_to, step):
    """Submits LONG, sends signal `number` to the replica that runs it once it is a third
    done, and checks that another replica finishes it with the undisturbed run's weights."""
    weights = undisturbed_weights()
    name = submit(cluster.replicas[submit_to], LONG, step)
    state = running_with_progress(cluster.replicas[submit_to], name, 0.33)
    victim = cluster.replicas[state["worker"]]
    signalled = time.monotonic()
    victim.signal(number)
    try:
        code = victim.wait(40)
        exited = time.monotonic() - signalled
        expect(code is not None, f"{victim.name} still runs {exited:.0f} s after the signal")
        watcher = others(victim.name)[0]
        moved = wait_job(watcher, name,
                         lambda j: j["status"] == "running" and j.get("worker") not in (
                             None, victim.name), "taken over by another replica", LEASE + 30)
        taken = time.monotonic() - signalled
        succeeded(watcher, name)
        expect(download(watcher, name) == weights,
               f"{name}, finished after the {signal.Signals(number).name}, has other weights "
               f"than the undisturbed run")
    finally:
        if victim.wait(0) is None:
            victim.signal(signal.SIGKILL)
            victim.wait(10)
        victim.start()
    return victim, code, exited, moved["worker"], taken


def check_kill_9():
    victim, _, _, worker, taken = interrupt_running_job(signal.SIGKILL, "A", "4")
    return (f"killed {victim.name} at >= 33%; {worker} took the job over {taken:.1f} s later "
            f"(lease {LEASE} s) and made the weights of the undisturbed run "
            f"({reference['seconds']:.1f} s); {victim.name} restarted")


def npy(shape, values):
    """A little-endian f64 C-order .npy, as numpy.save writes it."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }" % ", ".join(
        map(str, shape))
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
            + struct.pack(f"<{len(values)}d", *values))


def values_of(npy_bytes):
    """The data of a version 1 .npy, after its header (which the service writes its own way)."""
    return npy_bytes[10 + struct.unpack("<H", npy_bytes[8:10])[0]:]


def one_hot_map(row, col):
    """A 2 x 2 x 3 map of zeros but for the node (row, col), all ones: [1, 1, 1]'s BMU."""
    return npy((2, 2, 3), [1.0 if (r, c) == (row, col) else 0.0
                           for r in range(2) for c in range(2) for _ in range(3)])


def check_replace_seen_everywhere():
    A, B = cluster.replicas["A"], cluster.replicas["B"]
    name, old, new = "check-replace", one_hot_map(0, 0), one_hot_map(1, 1)
    question = {"model_name": name, "test_data": [[1, 1, 1]]}

    def predicted():
        status, answer = call(B, "POST", "/predict", question)
        expect(status == 200, f"/predict of {name} on B answered {status}: {answer[:300]!r}")
        return json.loads(answer)["predictions"]

    status, answer = call(A, "PUT", f"/models/{name}", old)
    expect(status in (200, 201), f"PUT /models/{name} on A answered {status}: {answer[:300]!r}")
    served = download(A, name)
    expect(values_of(served) == values_of(old), "A serves other weights than it was given")
    # B loads the first version into its caches.
    expect(download(B, name) == served, f"B serves other bytes than A for {name}")
    expect(predicted() == [[0, 0]], f"B predicts {predicted()} on the first {name}")
    status, answer = call(A, "PUT", f"/models/{name}?replace=true", new)
    expect(status == 200, f"PUT ?replace=true on A answered {status}: {answer[:300]!r}")
    replaced = time.monotonic()
    served = download(A, name)
    expect(values_of(served) == values_of(new), "A serves other weights than the replacement")
    while True:
        if download(B, name) == served and predicted() == [[1, 1]]:
            break
        expect(time.monotonic() - replaced < 1.0,
               "B still serves the old weights or predicts with them 1 s after the replace")
        time.sleep(0.05)
    return (f"B served A's new bytes and predicted with them {time.monotonic() - replaced:.2f} s "
            "after the replace")


def check_sigterm():
    victim, code, exited, worker, taken = interrupt_running_job(signal.SIGTERM, "B", "6")
    expect(code == 0, f"{victim.name} exited with {code} on SIGTERM")
    # Sooner than the lease could expire: the job was handed back, not abandoned.
    expect(taken < LEASE, f"{worker} took the job over only {taken:.1f} s after the SIGTERM")
    return (f"{victim.name} exited 0 {exited:.1f} s after SIGTERM; {worker} took the job over "
            f"{taken:.1f} s after it and made the same weights again; {victim.name} restarted")


hammered = collections.Counter()  # (route, status) during step 7
hammered_problems = []


def hammer(replica, route, stop, accepted):
    while not stop.is_set():
        if route == "/atrain":
            status, answer = call(replica, "POST", route, SMALL)
            if status == 200:
                accepted.append((replica, json.loads(answer)["operation-location"]))
                count(jobs, "7")
            time.sleep(0.1)
        else:
            status, answer = call(replica, "GET", route)
        count(hammered, (route, status if status is not None else "no answer"))
        if status is None or (status >= 500 and status != 503):
            hammered_problems.append(f"{route} on {replica.name}: {status} {answer[:300]!r}")


def check_database_restart():
    stop, accepted = threading.Event(), []
    threads = [threading.Thread(target=hammer, args=(replica, route, stop, accepted))
               for replica in cluster.replicas.values()
               for route in ("/list-of-models", "/jobs", "/health", "/atrain")]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        cluster.deps_command("pg-stop")
        time.sleep(3)
        cluster.deps_command("pg-start")
        restarted = time.monotonic()
        for replica in cluster.replicas.values():
            while True:
                status, answer = call(replica, "GET", "/health")
                if status == 200:
                    break
                expect(time.monotonic() - restarted < 30,
                       f"{replica.name}'s /health answers {status} 30 s after the restart")
                time.sleep(0.1)
        recovered = time.monotonic() - restarted
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    table = ", ".join(f"{route} {status}: {n}" for (route, status), n in sorted(
        hammered.items(), key=lambda item: (item[0][0], str(item[0][1]))))
    print(f"     answers while the database restarted: {table}", flush=True)
    expect(not hammered_problems, f"{len(hammered_problems)} answers neither 2xx/4xx nor 503, "
                                  f"first: {hammered_problems[:3]}")
    expect(any(status == 503 for (_, status) in hammered),
           "no 503 while the database was down: was it?")
    for replica in cluster.replicas.values():
        for route in ("/list-of-models", "/jobs", "/health"):
            status, answer = call(replica, "GET", route)
            expect(status == 200, f"{route} on {replica.name} answers {status} after the restart")
        health = json.loads(call(replica, "GET", "/health")[1])
        expect(health.get("dependencies") == {"database": "up", "store": "up"},
               f"{replica.name}'s /health says {health}")
    for replica, name in accepted:
        succeeded(replica, name, deadline=120)
    fresh = [submit(replica, SMALL, "7") for replica in cluster.replicas.values()]
    for replica, name in zip(cluster.replicas.values(), fresh):
        succeeded(replica, name)
    return (f"no 500, all 200 again {recovered:.1f} s after the restart, {len(accepted)} jobs "
            f"accepted meanwhile all succeeded, a new /atrain on each replica succeeded")


def check_same_listing():
    listings = {replica.name: listing(replica) for replica in cluster.replicas.values()}
    expect(len({json.dumps(l) for l in listings.values()}) == 1,
           f"the listings differ: {json.dumps(listings)[:2000]}")
    return f"A, B and C list the same {len(listings['A'])} models"


CHECKS = [
    ("1", "the Python client's flow against each replica", check_client_flow),
    ("2", "a long job submitted to A, watched on B, cancelled from C", check_cancel_across_replicas),
    ("3", "50 parallel /atrain over the three replicas", check_parallel_atrain),
    ("4", "kill -9 of the replica running a long job", check_kill_9),
    ("5", "a replace through A served by B within 1 s", check_replace_seen_everywhere),
    ("6", "SIGTERM of the replica running a long job", check_sigterm),
    ("7", "PostgreSQL restarted under load", check_database_restart),
    ("8", "every replica lists the same models", check_same_listing),
]


def main():
    started = time.monotonic()
    try:
        cluster.start()
    except (subprocess.CalledProcessError, RuntimeError) as err:
        print(f"FAIL the cluster did not start: {err}")
        return False
    seconds["start"] = time.monotonic() - started
    print(f"cluster: PostgreSQL, Garage and replicas A, B, C up in {seconds['start']:.1f} s "
          f"(logs in {work})", flush=True)
    failed = 0
    for number, title, check in CHECKS:
        began = time.monotonic()
        try:
            result, ok = check(), True
        except Failed as err:
            result, ok = str(err), False
        except Exception as err:  # a broken answer (no JSON, a missing field) fails the check
            result, ok = f"{type(err).__name__}: {err}", False
        seconds[number] = time.monotonic() - began
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {number}. {title} ({seconds[number]:.1f} s): {result}",
              flush=True)
    print(f"jobs submitted: {sum(jobs.values())} ("
          + ", ".join(f"step {step}: {n}" for step, n in sorted(jobs.items())) + ")")
    print("answers by status: " + ", ".join(
        f"{status}: {n}" for status, n in sorted(answers.items(), key=lambda i: str(i[0]))))
    print("seconds: " + ", ".join(f"{step} {s:.1f}" for step, s in seconds.items())
          + f", total {time.monotonic() - started:.1f}")
    print(f"cluster: {len(CHECKS) - failed} passed, {failed} failed")
    return failed == 0


def stop_on_sigterm(*_):
    raise SystemExit("stopped by SIGTERM")


signal.signal(signal.SIGTERM, stop_on_sigterm)
ok = False
try:
    ok = main()
finally:
    cluster.stop()
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(cluster.tails())
        print(f"replica logs and the dependencies' folder kept in {work}")
sys.exit(0 if ok else 1)
PY
