"""Buffered messages meet the subscriptions opened after them.

A step that subscribes (a token reached a message catch) may find its message already
waiting in the buffer: it is taken (deleted) and delivered as a further step on the same
instance, in the same transaction, so a buffered message is delivered once or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from procflow.engine.events import Effect, MessageCorrelated, Subscribe
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState
from procflow.store.port import StoreTxn


def buffered_delivery(
    txn: StoreTxn, instance: ProcessInstance, effects: Sequence[Effect], now: datetime
) -> MessageCorrelated | None:
    """The delivery of a buffered message to one of the step's new subscriptions, if any."""
    if instance.state is not InstanceState.STARTED:
        return None
    open_waits = {wait.id for wait in instance.waits}
    for effect in effects:
        if not isinstance(effect, Subscribe) or effect.wait_id not in open_waits:
            continue
        message = txn.take_buffered_message(
            instance.workspace_id, effect.message_name, effect.correlation_key, now
        )
        if message is not None:
            return MessageCorrelated(effect.wait_id, effect.message_name, message.data)
    return None
