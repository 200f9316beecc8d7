"""Use cases of the approval service, one method each; ids in and out."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import JSONTranscoder

from approval.domain.model import Address, Comment, Order, OrderContent, OrderLine, OrderNotFound, VersionMismatch
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.transcoding import dataclass_transcoding


class Orders(ServiceApplication):
    name = "Orders"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for cls in (Address, OrderLine, OrderContent, Comment):
            transcoder.register(dataclass_transcoding(cls))

    def submit(self, company_id: UUID, buyer_id: UUID, content: OrderContent) -> Order:
        """Submit an order. Until budgets exist (approval issue), every order is released at once."""
        now = datetime.now(UTC)
        order = Order(company_id=company_id, buyer_id=buyer_id, content=content, submitted_at=now)
        order.release(at=now)
        self.save(order)
        return order

    def comment(
        self, company_id: UUID, order_id: UUID, author_id: UUID, text: str, expected_version: int | None = None
    ) -> Order:
        order = self.get_order(company_id, order_id)
        if expected_version is not None and order.version != expected_version:
            raise VersionMismatch(f"The order is at version {order.version}, not {expected_version}.")
        order.add_comment(author_id=author_id, text=text, at=datetime.now(UTC))
        self.save(order)
        return order

    def get_order(self, company_id: UUID, order_id: UUID) -> Order:
        """Another company's order is indistinguishable from one that does not exist."""
        try:
            order: Order = self.repository.get(order_id)
        except AggregateNotFoundError:
            raise OrderNotFound("Not found.") from None
        if order.company_id != company_id:
            raise OrderNotFound("Not found.")
        return order
