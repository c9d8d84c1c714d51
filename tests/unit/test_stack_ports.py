"""Ports.free(): the test stacks' listening ports must not collide with each other or with outgoing connections."""

from pathlib import Path

from tools.stack import MODEL_SERVERS, Ports


def test_free_ports_are_distinct_and_outside_the_ephemeral_range():
    ephemeral_floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(20):
        p = Ports.free()
        singles = [p.kafka, p.s3, p.gateway] + [port for ts in p.torchserve.values() for port in ts[:5]]
        worker_blocks = [range(ts[5], ts[5] + 8) for ts in p.torchserve.values()]  # workers count up from ts[5]
        used = singles + [port for block in worker_blocks for port in block]
        assert len(used) == len(set(used)) == len(singles) + 8 * len(MODEL_SERVERS)
        assert all(1024 < port < ephemeral_floor for port in used)
