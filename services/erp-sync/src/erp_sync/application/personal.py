"""Where erp-sync's events hold a person's names, e-mail, phone and comments (ADR 0035): stored sealed with that
person's key, opened when read — to ``None`` once the person is erased. Messages to the ERP stay plain (decision 5):
the relay translates the opened events.

What stays plain: values of a person users does not know (an ERP contact that is no shop user, test data: users
answers ``unknown_person``), and what names no person — the main contact of a registration completed without their
user id (``main_contact.user_id``: attempts submitted before registration minted it, ADR 0040), the ERP's contacts in
a verification's answer (no user ids) and the few ``Customer.Linked`` events of a development version that listed
the ERP's contacts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from erp_sync.domain.customers import Customer
from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.verification import CustomerCenterActivation
from kc_runtime.sealing import KeyRing, Personal, deep_value_at


@dataclass(frozen=True)
class Deep(Personal):
    """A :class:`Personal` whose fields and owner lie deeper than one value in — a kept message's dict inside a dict
    (``"request.buyer.email"``, ``"message.state.email"``), which ``kc_runtime.sealing`` does not reach yet.

    Personal itself seals and opens them, on a view that holds each deep value one level in under the rest of its
    path (``{"request": {"buyer.email": …}}``): the place is the one Personal gives the whole path
    (``<place>/request.buyer.email``), so once the runtime follows deep paths, ``Deep`` becomes ``Personal`` and still
    opens what it stored. The dicts on the way are copied, never changed in place."""

    def seal(self, ring: KeyRing, state: dict[str, Any]) -> None:
        self._through(state, lambda view: Personal.seal(self, ring, view))

    def open(self, ring: KeyRing, state: dict[str, Any]) -> None:
        self._through(state, lambda view: Personal.open(self, ring, view))

    def _through(self, state: dict[str, Any], apply: Callable[[dict[str, Any]], None]) -> None:
        view: dict[str, Any] = {}
        for path in (self.owner, *self.fields):
            head, _, rest = path.partition(".")
            if rest:
                view.setdefault(head, {})[rest] = deep_value_at(state, path)
            else:
                view[head] = state.get(head)
        apply(view)
        for path in self.fields:
            head, _, rest = path.partition(".")
            after = view[head][rest] if rest else view[head]
            if after is not deep_value_at(state, path):
                _deep_set(state, path, after)


def _deep_set(state: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        state[head] = value
        return
    inner = state[head]
    if not isinstance(inner, dict):
        raise TypeError(f"{path}: a personal field inside a {type(inner).__name__} (dicts only)")
    copied = dict(inner)  # the event in memory (and the aggregate sharing its dict) keeps its values
    _deep_set(copied, rest, value)
    state[head] = copied


_NAMES = ("email", "first_name", "last_name")

CONTACT = "erp-sync/contact"
"""The place of what the ERP is told about a shop user (``ContactExchange``), sealed with the user's key."""

SALES_ORDER = "erp-sync/sales-order"
"""The place of a released order's request for the ERP: the buyer's names, e-mail and comment with the buyer's key,
the approver's names and e-mail with the approver's."""

ERP_CONTACT = "erp-sync/customer/erp-contact"
"""The place of a contact person as the ERP keeps it, with the key of the shop user it is (none: plain)."""

ACTIVATION = "erp-sync/customer-center-activation"
"""The place of the main contact a customer-center activation names (the registration's applicant), with the key of
the user registration minted for them (``main_contact.user_id``; none: plain)."""


def _request(*events: type) -> dict[type, tuple[Personal, ...]]:
    buyer = Deep(SALES_ORDER, ("request.buyer_comment", *(f"request.buyer.{n}" for n in _NAMES)),
                 owner="request.buyer_id")  # fmt: skip
    approver = Deep(SALES_ORDER, tuple(f"request.approver.{n}" for n in _NAMES), owner="request.approved_by")
    return {e: (buyer, approver) for e in events}


def _in_state(*events: type) -> dict[type, Personal]:
    return {e: Personal(CONTACT, tuple(f"state.{n}" for n in _NAMES), owner="user_id") for e in events}


def _in_message(*events: type) -> dict[type, Personal]:
    return {e: Deep(CONTACT, tuple(f"message.state.{n}" for n in _NAMES), owner="user_id") for e in events}


def _erp_contact(*events: type) -> dict[type, Personal]:
    fields = tuple(f"contact.{n}" for n in (*_NAMES, "phone"))
    return {e: Personal(ERP_CONTACT, fields, owner="contact.user_id") for e in events}


CX, SO = ContactExchange, SalesOrderExchange

PERSONAL_DATA: Mapping[type, Personal | tuple[Personal, ...]] = {
    CX.Created: Personal(CONTACT, _NAMES, owner="user_id"),
    **_in_state(CX.Changed, CX.Deactivated),
    **_in_message(CX.Resent, CX.Failed),
    **_request(SO.Requested, SO.Resent, SO.Failed),
    **_erp_contact(Customer.ErpContactRecorded, Customer.ErpContactHandedOn),
    CustomerCenterActivation.Requested: Personal(
        ACTIVATION, tuple(f"main_contact.{n}" for n in _NAMES), owner="main_contact.user_id"
    ),
}
"""erp-sync's events that hold personal data, and whose it is (``Exchanges.personal_data``)."""
