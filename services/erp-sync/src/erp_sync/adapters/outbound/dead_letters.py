"""Which dead letters erp-sync browses and retries (reading them and the retry loop: :mod:`kc_runtime.dead_letters`).

In scope: the dead-letter topics of every topic erp-sync consumes (only the records erp-sync's own consumer group
left there), and those of the ERP-facing topics erp-sync writes (deliveries the ERP never answered, or messages
the ERP's integration could not process).
"""

from __future__ import annotations

from contracts.topics import ERP_OUTBOUND_TOPICS, Topic
from kc_runtime.dead_letters import DeadLetter, consumed_dead_letter_topics

ERP_DEAD_LETTER_TOPICS = frozenset(t.dlt for t in ERP_OUTBOUND_TOPICS)


def dead_letter_scope(service: str) -> dict[str, Topic]:
    """Dead-letter topic name → the topic it holds dead letters of."""
    return {**consumed_dead_letter_topics(service), **{t.dlt: t for t in ERP_OUTBOUND_TOPICS}}


def is_ours(letter: DeadLetter, group_id: str) -> bool:
    """Dead letters of erp-sync's consumer group, or of the ERP-facing topics erp-sync writes."""
    return letter.topic in ERP_DEAD_LETTER_TOPICS or letter.left_by(group_id)
