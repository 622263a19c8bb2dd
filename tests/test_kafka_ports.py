"""tools/kafka picks the controller's port beside the broker's when it is free, and any free
port when it is not (a caller's free broker port says nothing of the next one)."""

from __future__ import annotations

import socket

from tools.kafka.local import LocalKafka, free_port, port_free


def test_controller_port_beside_the_broker_or_a_free_one(tmp_path):
    with socket.socket() as held:
        # a port whose next one is taken (held here), and a broker asked to start on it
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        held.listen()
        k = LocalKafka(tmp_path / "a", port=taken - 1)
        node = k.nodes[0]
        assert node.port == taken - 1
        assert node.controller_port != taken and port_free(node.controller_port)
    p = free_port()
    k = LocalKafka(tmp_path / "b", port=p)
    if port_free(p + 1):
        assert k.nodes[0].controller_port == p + 1
