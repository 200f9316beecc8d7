"""The company's credit in approval's use cases (ADR 0026): the gate every release passes, the ERP's figures and
word on released orders, waiting orders going on in submission order, and cancelling a waiting order.

The :class:`~approval.domain.credit.CompanyCredit` a use case changes is saved in the same transaction as its
orders (:meth:`Orders.save` takes it from the orders the gate judged), so its version check makes two concurrent
orders unable to both take the last part of the credit: the later save fails and its use case runs again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from approval.domain.credit import CompanyCredit, CreditFigures, CreditHold
from approval.domain.model import NotAllowed, Order, OrderStatus

if TYPE_CHECKING:
    from approval.application.orders import Orders
    from approval.domain.members import Member

_TAKEN = "_credit_to_save"
"""Where the gate leaves the credit it changed on the order it judged (for :meth:`Orders.save`)."""


class Credits:
    def __init__(self, app: Orders) -> None:
        self.app = app
        self._used = threading.local()

    # ---- the gate ------------------------------------------------------------------------------------------

    def attach(self, order: Any) -> Any:
        """Make ``order`` ask the company's credit before it goes to the ERP (every release passes the gate)."""
        if isinstance(order, Order):
            order.credit_gate = self.gate
        return order

    def gate(self, order: Order) -> CreditHold | None:
        """Whether ``order`` may go to the ERP now: it takes its part of the credit (None), or waits for credit (the
        hold). A company the ERP never sent credit figures for is not checked."""
        credit = self._credit_to_change(order.company_id)
        if credit is None:
            return None
        self._used.flag = True
        c = order.content
        reason = credit.judge(c.total_value, c.currency, order.submitted_at, order.id)
        setattr(order, _TAKEN, credit)
        if reason is None:
            credit.take(order.id, c.total_value)
            return None
        stand = credit.stand()
        credit.hold(order.id, c.total_value, c.currency, order.submitted_at)
        main_contact = self.app._company_to_read(order.company_id).main_contact_id
        return CreditHold(reason, c.total_value, c.currency, stand, main_contact)

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Within: every order the gate judges takes its part of one copy of its company's credit — several orders
        released by one use case (a bundle, ADR 0034) are judged one after the other and saved as one change."""
        self._used.shared = {}
        try:
            yield
        finally:
            self._used.shared = None

    def begin(self) -> None:
        """A use case's attempt begins (:meth:`Orders._on_ledger`)."""
        self._used.flag = False

    def involved(self) -> bool:
        """Did the attempt change a company's credit (its save may fail on the credit's version: run it again)."""
        return bool(getattr(self._used, "flag", False))

    @staticmethod
    def to_save(objs: Sequence[Any]) -> list[Any]:
        """The credits the gate changed for the orders among ``objs``, not among them already."""
        out: list[Any] = []
        for obj in objs:
            credit = obj.__dict__.pop(_TAKEN, None) if isinstance(obj, Order) else None
            if credit is not None and all(credit is not o for o in (*objs, *out)):
                out.append(credit)
        return out

    def _credit_to_change(self, company_id: UUID) -> CompanyCredit | None:
        """The company's credit as stored now, if the ERP ever sent figures (else None, for one version query)."""
        shared: dict[UUID, CompanyCredit | None] | None = getattr(self._used, "shared", None)
        if shared is not None and company_id in shared:
            return shared[company_id]
        found = self.app._find_growing(CompanyCredit.create_id(company_id))
        credit = found if isinstance(found, CompanyCredit) and found.known else None
        if shared is not None:
            shared[company_id] = credit
        return credit

    # ---- the ERP's word (consumer handlers; ``loaded``: what the handlers of one transaction share) ------------

    def figures_changed(self, company_id: UUID, figures: CreditFigures) -> list[Any]:
        """The ERP's credit figures of a company (newest ``as_of`` wins): waiting orders that fit now go on, oldest
        first."""
        credit_id = CompanyCredit.create_id(company_id)
        found = self.app._find_growing(credit_id)
        credit = found if isinstance(found, CompanyCredit) else CompanyCredit.open(company_id)
        if not credit.change_figures(figures):
            return []
        return [credit, *self.go_on(credit, self._loader({}))]

    def erp_word(self, order: Order, loaded: dict[UUID, Any], confirmed_at: datetime | None) -> list[Any]:
        """The ERP confirmed or refused a released order: a confirmation is counted until figures taken after it
        arrive; a refusal frees the order's part at once (waiting orders that fit then go on)."""
        if order.status not in (OrderStatus.CONFIRMED, OrderStatus.ERP_REJECTED):
            return []
        credit_id = CompanyCredit.create_id(order.company_id)
        credit = loaded.get(credit_id)
        if credit is None:
            if not self.app.latest_versions([credit_id]):
                return []  # the ERP never sent this company's credit: nothing counted
            credit = self.app._find_growing(credit_id)
        if not isinstance(credit, CompanyCredit) or order.id not in credit.exposure:
            return []
        loaded[credit_id] = credit
        if order.status is OrderStatus.CONFIRMED:
            credit.confirmed_by_erp(order.id, confirmed_at or datetime.now(UTC))
            return [credit]
        credit.rejected_by_erp(order.id)
        return [credit, *self.go_on(credit, self._loader(loaded))]

    # ---- waiting orders --------------------------------------------------------------------------------------

    def go_on(self, credit: CompanyCredit, load: Callable[[UUID], Any]) -> list[Order]:
        """Release the waiting orders the credit covers now, oldest first, each taking its part; an order that is no
        longer waiting (cancelled meanwhile) leaves the queue."""
        released: list[Order] = []
        now = self.app.clock()
        while True:
            stale = False
            for waiting in credit.next_to_go():
                order = load(waiting.order_id)
                if not isinstance(order, Order) or order.status is not OrderStatus.CREDIT_HOLD:
                    credit.withdraw(waiting.order_id)
                    stale = True
                    continue
                order.release_on_credit(now)
                credit.take(order.id, order.content.total_value)
                released.append(order)
            if not stale:
                return released

    def _loader(self, loaded: dict[UUID, Any]) -> Callable[[UUID], Any]:
        def load(order_id: UUID) -> Any:
            if order_id not in loaded:
                loaded[order_id] = self.app._find(order_id)
            return loaded[order_id]

        return load

    def cancel(self, member: Member, order: Order, comment: str | None, now: datetime) -> list[Any]:
        """Cancel an order waiting for credit: the main contact (any of the company's), or its buyer. The orders
        behind it that fit now go on."""
        if member.id != order.buyer_id and not member.is_main_contact:
            raise NotAllowed("Only the main contact or the buyer cancels an order waiting for credit.")
        order.cancel_credit_hold(member.id, now, comment)
        found = self.app._find_growing(CompanyCredit.create_id(order.company_id))
        if not isinstance(found, CompanyCredit):
            return [order]
        self._used.flag = True
        found.withdraw(order.id)
        return [order, found, *self.go_on(found, self._loader({order.id: order}))]

    def view(self, member: Member) -> CompanyCredit | None:
        """The company's credit (the main contact, or who manages budgets); None: the ERP never sent figures."""
        from approval.application.orders import MANAGE_BUDGETS

        if not (member.is_main_contact or member.can(MANAGE_BUDGETS)):
            raise NotAllowed("Only the main contact or who manages budgets sees the company's credit.")
        found = self.app._find_growing(CompanyCredit.create_id(member.company_id))
        return found if isinstance(found, CompanyCredit) and found.known else None
