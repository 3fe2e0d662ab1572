"""A private Mosquitto for the MQTT tests, started from the shipped configuration.

Only two lines of deploy/mosquitto/minesafe.conf change: the listener (a free port on 127.0.0.1) and
the persistence directory (a temporary one, world-writable because Mosquitto started as root drops to
the `mosquitto` user). Everything else — persistence, the lifted queue limits — is what production runs.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

REPO = Path(__file__).resolve().parents[3]
SHIPPED_CONFIG = REPO / "deploy" / "mosquitto" / "minesafe.conf"


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
                                              if os.access(p, os.X_OK)), None)
    if not found:
        pytest.fail("the MQTT tests need the `mosquitto` broker binary (Debian package mosquitto); it is not installed")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shipped_settings() -> dict[str, str]:
    """The shipped configuration as {option: value} (one line per option, comments dropped)."""
    settings = {}
    for line in SHIPPED_CONFIG.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition(" ")
            settings[key] = value.strip()
    return settings


def private_config(port: int, persistence: Path) -> str:
    lines, replaced = [], set()
    for line in SHIPPED_CONFIG.read_text().splitlines():
        key = line.split("#", 1)[0].split(" ", 1)[0].strip()
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {persistence}/"
        else:
            lines.append(line)
            continue
        replaced.add(key)
        lines.append(line)
    missing = {"listener", "persistence_location"} - replaced
    assert not missing, f"{SHIPPED_CONFIG} has no {missing} line to replace"
    return "\n".join(lines) + "\n"


class Broker:
    """One Mosquitto process; `restart()` stops it gracefully and starts it again on the same port
    with the same persistence directory (sessions and queued messages survive through the file)."""

    def __init__(self):
        self.binary = mosquitto_binary()
        # Not under pytest's tmp_path: its folders are private to root, and Mosquitto runs as `mosquitto`.
        self.workdir = Path(tempfile.mkdtemp(prefix="minesafe-mqtt-"))
        self.workdir.chmod(0o755)
        self.port = free_port()
        self.persistence = self.workdir / "persistence"
        self.persistence.mkdir()
        self.persistence.chmod(0o777)
        self.config = self.workdir / "mosquitto.conf"
        self.config.write_text(private_config(self.port, self.persistence))
        self.log = self.workdir / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout} s:\n{self.log_text()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto writes its persistence file and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"mosquitto did not stop on SIGTERM within {timeout} s") from None
        assert self.process.returncode == 0, f"mosquitto exited with {self.process.returncode}:\n{self.log_text()}"

    def restart(self) -> None:
        self.stop()
        assert (self.persistence / "mosquitto.db").exists(), "mosquitto wrote no persistence file on shutdown"
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Publisher:
    """A gateway-like paho client: QoS 1, each publish waits for the broker's PUBACK."""

    def __init__(self, broker: Broker):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(100)
        connected = threading.Event()
        self.client.on_connect = lambda client, userdata, flags, reason_code, properties: connected.set()
        self.client.connect("127.0.0.1", broker.port, keepalive=30)
        self.client.loop_start()
        if not connected.wait(10):
            self.close()
            raise AssertionError(f"the publisher could not connect to the broker on port {broker.port}")

    def publish(self, topic: str, payload: bytes | str, timeout: float = 10.0) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"the broker did not acknowledge a message on {topic} within {timeout} s"

    def publish_many(self, items, timeout: float = 30.0) -> int:
        """Publish (topic, payload) pairs pipelined, then wait until the broker acknowledged all of them."""
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in items]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "the broker did not acknowledge every message in time"
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition, timeout: float = 20.0, interval: float = 0.05, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def wait_for_count(count, target: int, timeout: float = 60.0, stall: float = 5.0, interval: float = 0.05) -> int:
    """Poll `count()` until it reaches `target`; give up when it stops growing for `stall` seconds.
    Returns the last count (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    last, changed = count(), time.monotonic()
    while last < target and time.monotonic() < deadline and time.monotonic() - changed < stall:
        time.sleep(interval)
        now = count()
        if now != last:
            last, changed = now, time.monotonic()
    return last


class TakeoverBroker:
    """A minimal MQTT v5 server for one thing Mosquitto 2.0.11 does not do (2.0.15 and later do): it accepts
    a client, grants its subscription, then disconnects it with reason 0x8E "Session taken over", as a
    broker does when another client connects with the same client id. Counts the connections it accepts."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(0.1)  # so that `serve` notices `stopping`
        self.connections, self.stopping = 0, False
        self.thread = threading.Thread(target=self.serve, name="takeover broker", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(5)
        self.server.close()

    @staticmethod
    def packet(conn: socket.socket) -> tuple[int, bytes]:
        """(packet type, body) of the next packet from the client."""
        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise ConnectionError("the client closed the connection")
                data += chunk
            return data

        kind = read(1)[0] >> 4
        length, shift = 0, 0
        while True:  # variable byte integer
            byte = read(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return kind, read(length)

    def serve(self) -> None:
        while not self.stopping:
            try:
                conn, _address = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(10)
                try:
                    kind, _body = self.packet(conn)
                    assert kind == 1, f"expected CONNECT, got packet type {kind}"
                    conn.sendall(bytes([0x20, 3, 0, 0, 0]))  # CONNACK: no session present, success, no properties
                    while (packet := self.packet(conn))[0] != 8:  # until SUBSCRIBE
                        pass
                    packet_id = packet[1][:2]
                    conn.sendall(bytes([0x90, 4]) + packet_id + bytes([0, 1]))  # SUBACK: QoS 1 granted
                    conn.sendall(bytes([0xE0, 2, 0x8E, 0]))  # DISCONNECT: Session taken over
                except (OSError, ConnectionError):
                    pass


@contextmanager
def running_broker():
    b = Broker()
    try:
        b.start()
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def broker():
    """A private broker for one test module (tests use their own client ids and subscription groups)."""
    with running_broker() as b:
        yield b


@pytest.fixture
def fresh_broker():
    """A broker of the test's own (for tests that restart it)."""
    with running_broker() as b:
        yield b
