"""Kundencenter wire contracts: the public, versioned language between services and towards the ERP.

Depends on pydantic only. Topic names live here and nowhere else (see :mod:`contracts.topics`).
"""

from contracts.base import Message, Money
from contracts.envelope import Envelope, Headers

__all__ = ["Envelope", "Headers", "Message", "Money"]
