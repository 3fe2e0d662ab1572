"""Telemetry ingest, end to end, on SQLite and PostgreSQL.

Per database (one process each, a fresh database and a private Mosquitto started from the shipped
deploy/mosquitto/minesafe.conf):
- end to end: a publisher process floods the broker with messages of 100 readings (QoS 1); the
  `minesafe ingest` worker code consumes them (decode → validate → commit → rules → alarms → ack).
  Rate = readings / (first publish → last batch committed).
- raw insert ceiling: the same number of rows, in the same batch size as the worker's transactions,
  written by `ingest.write_readings` alone (no broker, no validation, no rules). The ratio is the
  end-to-end rate over this ceiling, measured in the same run.
- alarm latency: the publisher paces 10,000 readings/s; one reading in ten messages crosses a red
  threshold on a fresh sensor; latency = alarm opened (inside the committing transaction) − publish.
- HTTP: gunicorn (2 workers) on the same database, two client threads posting batches of 100 readings.

Usage: python bench/ingest.py [--messages 3000] [--sqlite-only]
Last line: one JSON object with the figures of both databases.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _setup import ROOT, django_on, figures_per_database, percentile

MINES, SENSORS_PER_MINE, TRIGGERS_PER_MINE, ROWS_PER_MESSAGE = 10, 100, 20, 100


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def setup_city() -> list[dict]:
    """10 mines, each with a gateway, 100 CO sensors (default rules) and 20 trigger sensors (red at 100)."""
    from minesafe.core.models import Organisation, Region, User
    from minesafe.monitoring import services
    from minesafe.registry import services as registry
    from minesafe.registry.models import Mine
    from minesafe.web.demo import make_credit_code

    city = User.objects.create_user("bench", password="x", role=User.Role.CITY,
                                    organisation=Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU))
    county = Region.objects.filter(kind="county").order_by("code").first()
    rng, used = random.Random(4), set()
    mines = []
    for i in range(MINES):
        enterprise, _ = registry.get_or_create_enterprise(city, f"基准矿业{i}有限公司",
                                                          make_credit_code(rng, county.code, used), county)
        mine = registry.create_mine(city, code=f"BENCH-{i:02d}", name=f"基准矿{i}", enterprise=enterprise,
                                    county=county, mine_type=Mine.Type.UNDERGROUND, mineral="铁矿",
                                    design_capacity=30)
        gateway, token = services.create_gateway(city, mine, "基准网关")
        codes = []
        for j in range(SENSORS_PER_MINE):
            codes.append(services.create_sensor(city, mine, code=f"CO-{j:03d}", name=f"CO {j}", kind="co",
                                                gateway=gateway).code)
        triggers = []
        for j in range(TRIGGERS_PER_MINE):
            sensor = services.create_sensor(city, mine, code=f"TR-{j:03d}", name=f"trigger {j}", kind="seepage",
                                            gateway=gateway)
            services.create_rule(city, sensor, kind="threshold", direction="upper", red=100.0)
            triggers.append(sensor.code)
        mines.append({"id": mine.pk, "token": token, "codes": codes, "triggers": triggers})
    return mines


# The publisher: a separate process, so it runs on the other core ---------------------------------
def publisher(plan_path: str) -> None:
    import paho.mqtt.client as mqtt

    plan = json.loads(Path(plan_path).read_text())
    mines, base = plan["mines"], plan["base_ts"]
    rng = random.Random(plan["seed"])
    payloads, triggers = [], []
    trigger_queue = [(m["id"], code) for m in mines for code in m["triggers"]]
    for k in range(plan["messages"]):
        mine = mines[k % len(mines)]
        ts = base + (k // len(mines)) * 20 + plan["ts_offset"]
        readings = [{"sensor": code, "ts": ts, "value": round(rng.gauss(2.0, 0.3), 2)}
                    for code in mine["codes"][:ROWS_PER_MESSAGE]]
        trigger = None
        if plan["paced"] and k % 7 == 0 and trigger_queue:  # 7 is prime to the mine count: every mine
            owner = next((t for t in trigger_queue if t[0] == mine["id"]), None)
            if owner:
                trigger_queue.remove(owner)
                readings[-1] = {"sensor": owner[1], "ts": ts, "value": 500.0}
                trigger = [owner[0], owner[1]]
        payloads.append((f"minesafe/{mine['id']}/telemetry", json.dumps({"token": mine["token"],
                                                                          "readings": readings}), trigger))
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", plan["port"])
    client.loop_start()
    print("ready", flush=True)
    sys.stdin.readline()
    infos = []
    t0 = time.time()
    interval = 1.0 / plan["rate"] if plan["paced"] else 0.0
    for n, (topic, body, trigger) in enumerate(payloads):
        if interval:
            delay = t0 + n * interval - time.time()
            if delay > 0:
                time.sleep(delay)
        if trigger:
            triggers.append([*trigger, time.time()])
        infos.append(client.publish(topic, body, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    t_published = time.time()
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"t0": t0, "t_published": t_published, "triggers": triggers}), flush=True)


def run_publisher(plan: dict, workdir: Path) -> tuple[subprocess.Popen, Path]:
    path = workdir / f"plan-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(plan))
    proc = subprocess.Popen([sys.executable, __file__, "--publisher", str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc, path


def consume(worker, expected: int, timeout: float = 600) -> float:
    """Process batches until `expected` readings are stored; returns the wall time of the last commit."""
    deadline = time.monotonic() + timeout
    done = 0.0
    while worker.stats.stored < expected and time.monotonic() < deadline:
        batch = worker.next_batch()
        if batch:
            worker.process(batch)
            done = time.time()
    return done


def end_to_end(mines: list[dict], port: int, workdir: Path, messages: int, base_ts: int) -> dict:
    from minesafe.monitoring.mqtt import IngestWorker

    worker = IngestWorker("127.0.0.1", port, client_id="bench-ingest", batch_messages=200, max_wait_s=0.05)
    worker.start()
    worker.connected.wait(10)
    time.sleep(0.3)  # the subscription is in place before anything is published
    proc, _plan = run_publisher({"mines": mines, "port": port, "messages": messages, "base_ts": base_ts,
                                 "ts_offset": 0, "seed": 1, "paced": False, "rate": 0}, workdir)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    expected = messages * ROWS_PER_MESSAGE
    t_end = consume(worker, expected)
    published = json.loads(proc.stdout.readline())
    proc.wait()
    batches = worker.stats.batches
    worker.stop()
    worker.forget_session()  # else the shared subscription keeps handing this absent worker messages
    elapsed = t_end - published["t0"]
    return {"readings": worker.stats.stored, "elapsed_s": elapsed, "batches": batches,
            "readings_per_batch": worker.stats.stored / max(batches, 1),
            "publish_s": published["t_published"] - published["t0"]}


def raw_ceiling(mines: list[dict], messages: int, readings_per_batch: float, base_ts: int) -> float:
    """The same rows written by write_readings alone, in transactions of the worker's batch size."""
    import datetime as dt

    from django.db import transaction

    from minesafe.monitoring import ingest

    specs = {}
    for m in mines:
        by_code = ingest.mine_sensors(m["id"])
        specs[m["id"]] = [by_code[c] for c in m["codes"]]
    rows = []
    for k in range(messages):
        mine = mines[k % len(mines)]
        t = base_ts + (k // len(mines)) * 20
        stamp = dt.datetime.fromtimestamp(t, dt.UTC)
        rows.extend((spec, float(t), 1.0, stamp) for spec in specs[mine["id"]][:ROWS_PER_MESSAGE])
    size = max(int(readings_per_batch), ROWS_PER_MESSAGE)
    start = time.perf_counter()
    for i in range(0, len(rows), size):
        with transaction.atomic():
            ingest.write_readings(rows[i:i + size])
    return len(rows) / (time.perf_counter() - start)


def alarm_latency(mines: list[dict], port: int, workdir: Path, base_ts: int, seconds: int = 10) -> dict:
    from minesafe.monitoring.models import AlarmEvent
    from minesafe.monitoring.mqtt import IngestWorker

    rate = 10_000 // ROWS_PER_MESSAGE  # messages per second
    worker = IngestWorker("127.0.0.1", port, client_id="bench-latency", batch_messages=50, max_wait_s=0.01)
    worker.start()
    worker.connected.wait(10)
    time.sleep(0.3)
    proc, _plan = run_publisher({"mines": mines, "port": port, "messages": rate * seconds, "base_ts": base_ts,
                                 "ts_offset": 0, "seed": 2, "paced": True, "rate": rate}, workdir)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    consume(worker, rate * seconds * ROWS_PER_MESSAGE)
    published = json.loads(proc.stdout.readline())
    proc.wait()
    worker.stop()
    worker.forget_session()
    opened = {(e.alarm.mine_id, e.alarm.sensor.code): e.at.timestamp() for e in
              AlarmEvent.objects.filter(kind="opened", alarm__source="threshold").select_related("alarm__sensor")}
    latencies = [(opened[(mine_id, code)] - t_pub) * 1000 for mine_id, code, t_pub in published["triggers"]
                 if (mine_id, code) in opened]
    missing = len(published["triggers"]) - len(latencies)
    achieved = rate * seconds * ROWS_PER_MESSAGE / (published["t_published"] - published["t0"])
    return {"alarm_latency_p50_ms": round(percentile(latencies, 0.5), 1),
            "alarm_latency_p99_ms": round(percentile(latencies, 0.99), 1),
            "alarm_latency_samples": len(latencies), "alarm_latency_missing": missing,
            "paced_readings_per_s": round(achieved)}


def http_ingest(mines: list[dict], workdir: Path, base_ts: int, requests: int = 300) -> float:
    from minesafe.monitoring.tests.broker import free_port

    port = free_port()
    env = {**os.environ}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "minesafe.wsgi", "-w", "2",
                               "-b", f"127.0.0.1:{port}", "--log-level", "warning"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        bodies = []
        for k in range(requests):
            mine = mines[k % len(mines)]
            ts = base_ts + (k // len(mines)) * 20
            bodies.append((mine["token"], json.dumps({"readings": [
                {"sensor": c, "ts": ts, "value": 1.5} for c in mine["codes"][:ROWS_PER_MESSAGE]]})))
        errors = []

        def client(part):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for token, body in part:
                conn.request("POST", "/api/v1/telemetry", body, {"Authorization": f"Bearer {token}",
                                                                  "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
            conn.close()

        client(bodies[:2])  # warm both workers' caches and imports
        threads = [threading.Thread(target=client, args=(bodies[2 + i::2],)) for i in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise RuntimeError(f"HTTP ingest errors: {errors[:5]}")
        return (requests - 2) * ROWS_PER_MESSAGE / elapsed
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def worker_run(messages: int, database_url: str | None) -> dict:
    django_on(database_url)
    from minesafe.monitoring.tests.broker import Broker  # the tests' private Mosquitto, from the shipped config

    workdir = Path(tempfile.mkdtemp(prefix="minesafe-bench-ingest-"))
    broker = Broker()
    broker.start()
    port = broker.port
    try:
        mines = setup_city()
        now = int(time.time())
        log("set up; end to end …")
        # Each phase's readings are newer than the last phase's: live data, not a backlog of late readings.
        e2e = end_to_end(mines, port, workdir, messages, base_ts=now - 4 * 86400)
        ceiling = raw_ceiling(mines, messages, e2e["readings_per_batch"], base_ts=now - 5 * 86400)
        rate = e2e["readings"] / e2e["elapsed_s"]
        figures = {"readings_per_s": round(rate), "raw_insert_ceiling_per_s": round(ceiling),
                   "ceiling_ratio": round(rate / ceiling, 3), "readings_per_batch": round(e2e["readings_per_batch"]),
                   "publish_only_readings_per_s": round(e2e["readings"] / e2e["publish_s"])}
        log(f"end to end {figures}; alarm latency …")
        figures.update(alarm_latency(mines, port, workdir, base_ts=now - 2 * 86400))
        log("HTTP …")
        figures["http_readings_per_s"] = round(http_ingest(mines, workdir, base_ts=now - 86400))
        return figures
    finally:
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000, help="messages of 100 readings, end to end")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--worker", choices=["sqlite", "postgres"])
    parser.add_argument("--publisher")
    args = parser.parse_args()
    if args.publisher:
        publisher(args.publisher)
        return
    if args.worker:
        print(json.dumps(worker_run(args.messages, os.environ.get("BENCH_DATABASE_URL") or None)))
        return
    result = {"benchmark": "ingest", "rows_per_message": ROWS_PER_MESSAGE, "messages": args.messages}
    per_database = figures_per_database(__file__, ["--messages", str(args.messages)], "minesafe_bench_ingest",
                                        args.sqlite_only, postgres_name="postgres")
    for name, figures in per_database.items():
        result.update({f"{key}_{name}": value for key, value in figures.items()})
    # The headline figures the issue names: the worse latency of the two databases, HTTP on the embedded default.
    latencies = [v for k, v in result.items() if k.startswith("alarm_latency_p99_ms_")]
    if latencies:
        result["alarm_latency_p99_ms"] = max(latencies)
    result["http_readings_per_s"] = result["http_readings_per_s_sqlite"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
