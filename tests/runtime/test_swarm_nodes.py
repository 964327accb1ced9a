"""mist.runtime.swarm, the parts that need no swarm: what a node looks like to Mist, and what Mist
tells someone whose engine cannot manage a swarm."""

from __future__ import annotations

from mist.runtime.swarm import _advice, _node

RAW = {
    "ID": "n0d3id", "Spec": {"Role": "worker", "Availability": "drain", "Labels": {"mist.volumes.app-3": "true"}},
    "Description": {"Hostname": "node-2", "Engine": {"EngineVersion": "20.10.24"},
                    "Resources": {"NanoCPUs": 2_000_000_000, "MemoryBytes": 8 * 2**30}},
    "Status": {"State": "ready", "Addr": "172.17.0.3"},
}


def test_a_node_is_read_with_its_resources_in_plain_units() -> None:
    node = _node(RAW, tasks=3)
    assert (node.id, node.hostname, node.role, node.availability, node.state) == (
        "n0d3id", "node-2", "worker", "drain", "ready")
    assert (node.cpus, node.memory_bytes) == (2.0, 8 * 2**30)
    assert (node.engine_version, node.address) == ("20.10.24", "172.17.0.3")
    assert node.leader is False and node.tasks == 3 and node.labels == {"mist.volumes.app-3": "true"}
    leader = _node({**RAW, "ManagerStatus": {"Leader": True}}, tasks=0)
    assert leader.leader is True


def test_an_engine_outside_a_swarm_is_told_how_to_make_one() -> None:
    advice = _advice({"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False}})
    assert "docker swarm init --advertise-addr" in advice and "DOCKER_HOST" in advice


def test_a_worker_engine_is_told_to_point_at_a_manager() -> None:
    advice = _advice({"Swarm": {"LocalNodeState": "active", "ControlAvailable": False}})
    assert "worker" in advice and "manager" in advice and "docker swarm init" not in advice
