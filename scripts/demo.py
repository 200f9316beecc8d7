"""`make demo`: the five-minute tour of a running local stack (`make up`), step by step, with the curl lines a
person would type.

A customer the ERP knows registers through the gateway, its applicant confirms the address from the mail, the
new main contact creates a buyer (budget: 10 pieces or 500 EUR per order) and an approver, the buyer places an
order over budget, the approver approves it with a change (12 pieces become 9), and the order arrives at the ERP.

What it uses besides the gateway (http://127.0.0.1:8080) are the local stack's stand-ins for systems that are
not ours: the development token issuer (behind the gateway at /dev-auth/token — a real shop gets its tokens from
its identity provider), the SMTP sink's mailbox (http://127.0.0.1:8113/messages) and the ERP simulator's records
(http://127.0.0.1:8111).

The seeded customer 10001 (Muster Maschinenbau GmbH, invoice R-10001-1) is registered on the first run. A
customer registers once, so later runs (or ``--fresh``) add a new customer to the simulated ERP first, as an
ERP would know a new customer. ``--summary FILE`` writes the outcome as JSON (the journey test reads it).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx

GATEWAY = "http://127.0.0.1:8080"
SMTP_SINK = "http://127.0.0.1:8113"
ERP = "http://127.0.0.1:8111"
SEEDED = "10001"
DEADLINE_S = 60.0
CONFIRM_LINK = re.compile(r"registration=([0-9a-f-]{36})&(?:amp;)?token=([A-Za-z0-9_-]+)")
ADDRESS = {
    "name": "Muster Maschinenbau GmbH",
    "street": "Industriestr. 12",
    "postal_code": "70565",
    "city": "Stuttgart",
    "country": "DE",
}
BUDGET = {"max_total_quantity": 10, "max_order_value": {"amount": "500.00", "currency": "EUR"}}


class DemoFailed(Exception):
    pass


class Tour:
    def __init__(self, gateway: str, smtp_sink: str, erp: str) -> None:
        self.gateway, self.smtp_sink, self.erp = gateway, smtp_sink, erp
        self.http = httpx.Client(timeout=30)
        self.tokens: dict[str, str] = {}  # shell variable name → token, to print `$NAME` instead of the token
        self.step_no = 0

    # -- printing ---------------------------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n== {self.step_no}. {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def curl(self, method: str, url: str, body: Any = None, as_: str | None = None, data: str | None = None) -> str:
        """The curl line of a request; ``data``: the body as shell text (e.g. ``"$ORDER"``) instead of ``body``."""
        parts = ["curl", "-s"]
        if method != "GET":
            parts += ["-X", method]
        line = " ".join(shlex.quote(p) for p in parts) + " " + shlex.quote(url)
        if as_ is not None:
            line += f' -H "Authorization: Bearer ${as_}"'
        if data is not None:
            line += " -H 'Content-Type: application/json' -d " + data
        elif body is not None:
            line += " -H 'Content-Type: application/json' -d " + shlex.quote(json.dumps(body, ensure_ascii=False))
        return line

    # -- HTTP -------------------------------------------------------------------------------------------------

    def call(
        self, method: str, url: str, body: Any = None, as_: str | None = None, expect: tuple[int, ...] = (200,),
        show: bool = True, data: str | None = None,
    ) -> Any:  # fmt: skip
        """One request, printed as the curl line that does the same; the JSON answer (DemoFailed otherwise)."""
        if show:
            self.say("$ " + self.curl(method, url, body, as_, data))
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        response = self.http.request(method, url, json=body, headers=headers)
        if response.status_code not in expect:
            raise DemoFailed(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def answer(self, method: str, url: str, body: Any = None, as_: str | None = None) -> Any:
        """The JSON answer of a request that may not succeed yet (None unless 200), for ``until``."""
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        response = self.http.request(method, url, json=body, headers=headers)
        return response.json() if response.status_code == 200 else None

    def until(self, what: str, probe: Callable[[], Any], deadline_s: float = DEADLINE_S) -> Any:
        """Ask ``probe`` again until it returns something truthy (a poll with a deadline)."""
        end = time.monotonic() + deadline_s
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > end:
                raise DemoFailed(f"gave up after {deadline_s:.0f} s waiting for {what}")
            time.sleep(0.25)

    def sign_in(self, var: str, email: str) -> None:
        """A token for ``email`` from the development issuer, kept in the shell variable ``var``."""
        body = {"email": email}
        self.say(f"$ {var}=$({self.curl('POST', self.gateway + '/dev-auth/token', body)} | jq -r .access_token)")
        self.tokens[var] = self.call("POST", self.gateway + "/dev-auth/token", body, show=False)["access_token"]

    # -- the tour ---------------------------------------------------------------------------------------------

    def run(self, fresh: bool) -> dict[str, Any]:
        run = uuid4().hex[:6]
        try:
            ready = self.http.get(self.gateway + "/healthz").status_code == 200
        except httpx.TransportError:
            ready = False
        if not ready:
            raise DemoFailed(f"the gateway at {self.gateway} is not ready: run `make up` first")

        self.step("A customer the ERP knows (the ERP simulator's records)")
        customer = self.call("GET", f"{self.erp}/customers/{SEEDED}")
        if fresh or customer["customer_center_active"]:
            why = "--fresh" if fresh else f"{SEEDED} registered already (a customer registers once)"
            self.say(f"({why}: the ERP gets a new customer first, with a fresh number and the default prices)")
            customer = self.call(
                "POST", f"{self.erp}/admin/customers",
                {"name": f"Muster Maschinenbau GmbH (Demo {run})", "currency": "EUR"}, expect=(201,),
            )  # fmt: skip
        number, invoice = customer["customer_number"], customer["invoices"][0]
        self.say(f"customer {number}, {customer['name']}, invoice {invoice}")

        self.step("Register it: customer number, one of its invoice numbers, an e-mail address (no token)")
        main_email = f"hauptkontakt-{run}@demo.example"
        started = self.call(
            "POST", self.gateway + "/api/registrations",
            {"customer_number": number, "invoice_number": invoice, "email": main_email,
             "first_name": "Anna", "last_name": "Muster", "language": "de"},
            expect=(202,),
        )  # fmt: skip
        rid = started["id"]
        self.say(f"→ 202, registration {rid}: {started['status']} (the ERP is asked over Kafka)")
        self.say("$ " + self.curl("GET", f"{self.gateway}/api/registrations/{rid}"))

        def verified() -> dict[str, Any] | None:
            status = self.call("GET", f"{self.gateway}/api/registrations/{rid}", show=False)
            return status if status["status"] != "verifying" else None

        decided = self.until("the ERP's verification", verified)
        if decided["status"] != "awaiting_confirmation":
            raise DemoFailed(f"registration {rid} ended {decided['status']}: {decided}")
        self.say("→ awaiting_confirmation: the ERP verified customer and invoice; a mail went to the address")

        self.step("Confirm the address with the link from the mail (the SMTP sink's mailbox)")
        self.say("$ " + self.curl("GET", f"{self.smtp_sink}/messages?to={main_email}"))

        def link() -> tuple[str, str] | None:
            for mail in self.call("GET", f"{self.smtp_sink}/messages?to={main_email}", show=False):
                found = CONFIRM_LINK.search(mail.get("text") or "")
                if found and found.group(1) == rid:
                    self.say(f"→ \u201c{mail['subject']}\u201d")
                    return found.group(1), found.group(2)
            return None

        _, token = self.until("the confirmation mail", link)
        self.say(f"→ the link carries registration={rid}&token={token}")
        confirmed = self.call("POST", f"{self.gateway}/api/registrations/{rid}/confirm", {"token": token})
        self.say(f"→ {confirmed['status']}: the users service creates the company and its main contact")

        self.step("Sign in as the main contact (Hauptkontakt): a token from the development issuer")
        self.sign_in("MAIN", main_email)
        self.say("$ " + self.curl("GET", self.gateway + "/api/me", as_="MAIN"))
        me = self.until("users to create the company", lambda: self.answer("GET", self.gateway + "/api/me", as_="MAIN"))
        self.say(f"→ {me['user']['first_name']} {me['user']['last_name']}, main contact of "
                 f"{me['company']['name']} (company {me['company']['id']})")  # fmt: skip

        self.step("The main contact creates a buyer (budget: 10 pieces, 500 EUR per order) and an approver")
        buyer_email, approver_email = f"einkauf-{run}@demo.example", f"freigabe-{run}@demo.example"
        buyer = self.call(
            "POST", self.gateway + "/api/users",
            {"email": buyer_email, "first_name": "Bea", "last_name": "Buyer", "role_ids": ["buyer"],
             "budget": BUDGET, "language": "de"},
            as_="MAIN", expect=(201,),
        )  # fmt: skip
        self.say(f"→ buyer {buyer['id']} ({buyer_email})")
        approver = self.call(
            "POST", self.gateway + "/api/users",
            {"email": approver_email, "first_name": "Felix", "last_name": "Freigabe", "role_ids": ["approver"],
             "language": "de"},
            as_="MAIN", expect=(201,),
        )  # fmt: skip
        self.say(f"→ approver {approver['id']} ({approver_email})")
        self.call("PUT", self.gateway + "/api/company/approvers", {"user_ids": [approver["id"]]}, as_="MAIN")
        self.say("→ the company's approvers: Felix Freigabe")
        self.sign_in("BUYER", buyer_email)
        self.sign_in("APPROVER", approver_email)

        self.step("The buyer's checkout: 12 × A-100 is over the budget of 10 pieces")
        order = {"lines": [{"sku": "A-100", "quantity": 12}], "delivery_address": ADDRESS,
                 "billing_address": ADDRESS, "payment_method": "invoice", "shipping_method": "standard",
                 "buyer_comment": "Bitte an Rampe 3", "reference": f"PO-{run}"}  # fmt: skip

        def evaluated() -> dict[str, Any] | None:
            # None until approval has heard of the buyer and the approvers (over Kafka, a moment)
            verdict = self.answer("POST", self.gateway + "/api/orders/evaluate", order, as_="BUYER")
            return verdict if verdict and [a["id"] for a in verdict["approvers"]] == [approver["id"]] else None

        self.say("$ ORDER=" + shlex.quote(json.dumps(order, ensure_ascii=False)))
        self.say("$ " + self.curl("POST", self.gateway + "/api/orders/evaluate", as_="BUYER", data='"$ORDER"'))
        verdict = self.until("approval to know the buyer and the approver", evaluated)
        self.say(f"→ within_budget: {verdict['within_budget']}, total {_money(verdict['total'])}, "
                 f"goes to {', '.join(a['name'] for a in verdict['approvers'])}")  # fmt: skip

        self.step("The buyer places the order anyway: it waits for approval")
        placed = self.call("POST", self.gateway + "/api/orders", order, as_="BUYER", expect=(201,), data='"$ORDER"')
        (limit,) = placed["exceeded_limits"]
        self.say(f"→ order {placed['id']}: {placed['status']}, {limit['limit']} {limit['actual']} > "
                 f"{limit['allowed']}")  # fmt: skip

        self.step("The approver's inbox, and the approval with a change: 9 pieces instead of 12")
        self.say("$ " + self.curl("GET", self.gateway + "/api/approvals", as_="APPROVER"))
        self.until(
            "the order in the approver's inbox",
            lambda: placed["id"] in [o["id"] for o in self.call("GET", self.gateway + "/api/approvals",
                                                                  as_="APPROVER", show=False)["items"]],
        )  # fmt: skip
        self.say(f"→ order {placed['id']} is waiting for Felix Freigabe")
        comment = "Nur 9 Stück, der Rest kommt nächsten Monat"
        decision = {"comment": comment, "modified_order": {**order, "lines": [{"sku": "A-100", "quantity": 9}]}}
        jq = 'jq -n --argjson o "$ORDER" ' + shlex.quote(
            "{comment: " + json.dumps(comment, ensure_ascii=False) + ", modified_order: ($o | .lines[0].quantity = 9)}"
        )
        url = f"{self.gateway}/api/orders/{placed['id']}/approve"
        self.say(f"$ {jq} | {self.curl('POST', url, as_='APPROVER', data='@-')}")
        approved = self.call("POST", url, decision, as_="APPROVER", show=False)
        changes = ", ".join(f"{m['field']}: {m['before']} → {m['after']}" for m in approved["modifications"])
        self.say(f"→ {approved['status']} by {approved['decided_by']['name']} ({changes}); the buyer gets a mail")

        self.step("At the ERP: the sales order, as approved")
        self.say("$ " + self.curl("GET", f"{self.erp}/sales-orders/{placed['id']}"))
        sales_order = self.until(
            "the approved order at the ERP", lambda: self.answer("GET", f"{self.erp}/sales-orders/{placed['id']}")
        )
        payload = sales_order.get("payload", sales_order)
        lines = ", ".join(f"{ln['quantity']} × {ln['sku']}" for ln in payload["lines"])
        by = payload.get("approved_by")
        self.say(f"→ sales order for customer {payload.get('customer_number', number)}: {lines}, approved by "
                 f"{by}{' (Felix Freigabe)' if by == approver['id'] else ''}")  # fmt: skip

        self.step("The buyer's mail about the decision")
        self.say("$ " + self.curl("GET", f"{self.smtp_sink}/messages?to={buyer_email}"))
        mails = self.until(
            "the buyer's mail",
            lambda: [m for m in self.answer("GET", f"{self.smtp_sink}/messages?to={buyer_email}") or []
                     if m["headers"].get("X-Kundencenter-Kind") == "order_approved"]
            or None,
        )  # fmt: skip
        self.say(f"→ \u201c{mails[-1]['subject']}\u201d")

        print(f"\nDone: customer {number} registered, order {placed['id']} approved with a change and at the ERP.")
        return {
            "customer_number": number,
            "registration_id": rid,
            "company_id": me["company"]["id"],
            "buyer_id": buyer["id"],
            "approver_id": approver["id"],
            "order_id": placed["id"],
            "status": approved["status"],
            "erp_lines": payload["lines"],
        }


def _money(value: Any) -> str:
    return f"{value['amount']} {value['currency']}" if isinstance(value, dict) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="register a new customer, not the seeded 10001")
    parser.add_argument("--summary", help="write the outcome as JSON to this file")
    parser.add_argument("--gateway", default=GATEWAY)
    parser.add_argument("--smtp-sink", default=SMTP_SINK)
    parser.add_argument("--erp", default=ERP)
    args = parser.parse_args(argv)
    tour = Tour(args.gateway.rstrip("/"), args.smtp_sink.rstrip("/"), args.erp.rstrip("/"))
    try:
        outcome = tour.run(args.fresh)
    except (DemoFailed, httpx.HTTPError) as exc:
        print(f"\ndemo failed at step {tour.step_no}: {exc}", file=sys.stderr)
        return 1
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as out:
            json.dump(outcome, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
