# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A Flower `Grid` that runs a ClientApp in this process, one `Context` per node (no Ray, no SuperLink)."""

from __future__ import annotations

import uuid

from flwr.app import Context, Error, Message, RecordDict
from flwr.supercore.task_identity import TaskIdentity


class InProcessGrid:
    """Delivers each message to `client_app` with the destination node's own, persistent `Context`.

    An exception in the ClientApp becomes an error reply, as Flower's runtimes return it.

    Args:
      run_config: every node's run config (default `insecure`: simulated nodes pin no committee).
      node_configs: node index -> extra node config (e.g. a member's `member-key` identity file).
    """

    def __init__(self, client_app, num_nodes: int, run_config: dict | None = None,
                 node_configs: dict[int, dict] | None = None) -> None:
        self.client_app = client_app
        run_config = {"insecure": True} if run_config is None else run_config
        self.contexts = {
            1000 + i: Context(run_id=1, node_id=1000 + i,
                              node_config={"partition-id": i, "num-partitions": num_nodes, **(node_configs or {}).get(i, {})},
                              state=RecordDict(), run_config=dict(run_config))
            for i in range(num_nodes)
        }
        self.sent: list[Message] = []
        TaskIdentity.run_id, TaskIdentity.task_id, TaskIdentity.node_id = 1, 1, 0  # set by Flower's runtimes

    def get_node_ids(self):
        return list(self.contexts)

    def send_and_receive(self, messages, *, timeout=None):
        replies = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = str(uuid.uuid4())
            self.sent.append(msg)
            try:
                reply = self.client_app(msg, self.contexts[msg.metadata.dst_node_id])
            except Exception as e:  # noqa: BLE001 - Flower turns ClientApp exceptions into error replies
                reply = Message(Error(code=0, reason=f"{type(e).__name__}: {e}"), reply_to=msg)
            replies.append(reply)
        return replies
