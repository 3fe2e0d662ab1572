"""Monitoring fixtures: a gateway with sensors at mine A (underground) and pond A (tailings)."""

import datetime as dt
from dataclasses import dataclass

import pytest

from minesafe.monitoring import ingest, services
from minesafe.monitoring.models import Gateway, Sensor


@dataclass
class Monitored:
    gateway: Gateway  # mine A's gateway
    token: str
    co: Sensor  # mine A, CO (default rules: threshold 10/16/20/24 ppm with 40 s duration, rise > 5 ppm)
    o2: Sensor  # mine A, O2 (lower thresholds)
    pond_gateway: Gateway
    pond_token: str
    water: Sensor  # pond A, water level (no default thresholds)
    freeboard: Sensor  # pond A, derived: 100.0 - water level
    gateway_b: Gateway  # mine B's gateway
    token_b: str
    co_b: Sensor  # mine B, CO


@pytest.fixture(autouse=True)
def long_running_platform(monkeypatch):
    """Tests move the clock freely: the platform counts as running since long before (no start-up grace)."""
    monkeypatch.setattr(services, "PROCESS_STARTED", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


@pytest.fixture
def monitored(personas) -> Monitored:
    p = personas
    ingest.invalidate()
    gw, token = services.create_gateway(p.city, p.mine_a, "井下监控分站")
    co = services.create_sensor(p.city, p.mine_a, code="CO-01", name="一氧化碳 -350 中段", kind="co", gateway=gw)
    o2 = services.create_sensor(p.city, p.mine_a, code="O2-01", name="氧气 -350 中段", kind="o2", gateway=gw)
    pgw, ptoken = services.create_gateway(p.city, p.pond_a, "尾矿库在线监测")
    water = services.create_sensor(p.city, p.pond_a, code="SW-01", name="库水位", kind="water_level", gateway=pgw)
    freeboard = services.create_sensor(p.city, p.pond_a, code="AQCG-01", name="安全超高", kind="freeboard",
                                       source=water, derive_offset=100.0, derive_scale=-1.0)
    gwb, token_b = services.create_gateway(p.city, p.mine_b, "露天矿监测")
    co_b = services.create_sensor(p.city, p.mine_b, code="CO-01", name="一氧化碳", kind="co", gateway=gwb)
    yield Monitored(gw, token, co, o2, pgw, ptoken, water, freeboard, gwb, token_b, co_b)
    ingest.invalidate()
