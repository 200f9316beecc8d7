"""My orders, a new order, an order with its lines, budget verdict, timeline and conversation, the decisions on it,
and the approvers' inbox (Bestellungen freigeben)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontend.api import ApiProblem
from frontend.web import Page, Web

STATUSES = (
    "pending_approval", "released", "transmitted", "confirmed", "rejected", "cancelled", "erp_rejected", "expired"
)
ADDRESS_FIELDS = ("name", "street", "postal_code", "city", "country")
NEW_ORDER_LINES = 3
PAGE_SIZE = 25


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _address(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k in (*ADDRESS_FIELDS, "additional") and v is not None}


def _order_body(order: dict[str, Any], quantities: dict[str, int]) -> dict[str, Any]:
    """The order as ``POST /api/orders`` takes it, with the given quantity per line index (0 drops a line)."""
    lines = []
    for i, line in enumerate(order["lines"]):
        quantity = quantities.get(str(i), line["quantity"])
        if quantity > 0:
            lines.append({"sku": line["sku"], "quantity": quantity})
    body: dict[str, Any] = {
        "lines": lines,
        "delivery_address": _address(order["delivery_address"]),
        "billing_address": _address(order["billing_address"]),
        "payment_method": order["payment_method"],
        "shipping_method": order["shipping_method"],
    }
    if order.get("reference"):
        body["reference"] = order["reference"]
    if order.get("buyer_comment"):
        body["buyer_comment"] = order["buyer_comment"]
    return body


def _quantities(form: dict[str, Any], order: dict[str, Any]) -> dict[str, int] | None:
    """``qty-<i>`` of each line; None if one is not a whole number from 0 up."""
    out: dict[str, int] = {}
    for i in range(len(order["lines"])):
        value = _int(form.get(f"qty-{i}"))
        if value is None or value < 0:
            return None
        out[str(i)] = value
    return out


DECISIONS_MAX = 100  # the API's limit per request (POST /api/orders/decisions)
BUNDLE_MIN = 2  # the API's least bundle (POST /api/orders/bundles)


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    async def listing(page: Page, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return await web.call(page, "GET", path, params=params)

    @r.get(u("/orders"))
    async def orders(request: Request, status: str | None = None, scope: str = "mine", offset: int = 0) -> Response:
        page = await web.signed_in(request)
        scope = "company" if scope == "company" and page.can("view_company_orders") else "mine"
        params = {"status": status if status in STATUSES else None, "scope": scope, "limit": PAGE_SIZE,
                  "offset": max(offset, 0)}  # fmt: skip
        result = await listing(page, "/api/orders", params)
        return web.render(page, "orders.html.j2", result=result, filter_status=params["status"], scope=scope,
                          statuses=STATUSES, page_size=PAGE_SIZE)  # fmt: skip

    async def show_inbox(page: Page, status: int = 200, offset: int = 0, **extra: Any) -> Response:
        result = await listing(page, "/api/approvals", {"limit": PAGE_SIZE, "offset": max(offset, 0)})
        decided = (extra.get("results") or {}).get("results", []) + extra.pop("results_gone", [])
        if decided:
            # the list is a projection that may lag the decisions just made by a moment: what is no longer
            # waiting (decided now, or by someone else before) is not offered again
            gone = {r["order_id"] for r in decided if r.get("status") != "pending_approval"}
            result["items"] = [o for o in result["items"] if o["id"] not in gone]
        extra.setdefault("selected", [])
        return web.render(page, "inbox.html.j2", status=status, result=result, page_size=PAGE_SIZE, **extra)

    @r.get(u("/approvals"))
    async def inbox(request: Request, offset: int = 0) -> Response:
        return await show_inbox(await web.signed_in(request), offset=offset)

    @r.post(u("/approvals/decide"))
    async def decide_selected(request: Request) -> Response:
        """The selected orders of the inbox approved or rejected alike (POST /api/orders/decisions): a result per
        order, since some may have been decided by someone else meanwhile."""
        page = await web.signed_in(request)
        form = await web.form(page)
        chosen = form.get("order_id") or []
        ids = list(dict.fromkeys(i for i in ([chosen] if isinstance(chosen, str) else chosen) if _uuid(i)))
        decision = form.get("decision")
        comment = str(form.get("comment") or "").strip()
        keep: dict[str, Any] = {"selected": ids, "comment": comment}
        if decision == "bundle":
            return await bundle_selected(page, ids, comment, keep)
        if decision not in ("approve", "reject"):
            return await show_inbox(page, 422, error=page.t("error.validation_failed"), **keep)
        if not ids:
            return await show_inbox(page, 422, error=page.t("inbox.none_selected"), **keep)
        if len(ids) > DECISIONS_MAX:
            return await show_inbox(page, 422, error=page.t("inbox.too_many", n=DECISIONS_MAX), **keep)
        if decision == "reject" and not comment:
            return await show_inbox(page, 422, error=page.t("order.reject_comment") + ": " + page.t("common.required"),
                                    **keep)  # fmt: skip
        body: dict[str, Any] = {"decision": decision, "order_ids": ids} | ({"comment": comment} if comment else {})
        try:
            results = await web.call(page, "POST", "/api/orders/decisions", json=body)
        except ApiProblem as problem:
            return await show_inbox(page, _shown(problem), error=page.t.error(problem.code, problem.message), **keep)
        return await show_inbox(page, results=results)

    async def bundle_selected(page: Page, ids: list[str], comment: str, keep: dict[str, Any]) -> Response:
        """The selected orders approved together and sent to the ERP as one order (POST /api/orders/bundles, ADR
        0034): all or nothing — a refusal names the order that stopped it."""
        if len(ids) < BUNDLE_MIN:
            return await show_inbox(page, 422, error=page.t("inbox.bundle_needs_two"), **keep)
        body: dict[str, Any] = {"order_ids": ids} | ({"comment": comment} if comment else {})
        try:
            bundle = await web.call(page, "POST", "/api/orders/bundles", json=body)
        except ApiProblem as problem:
            named = [d.get("order_id") for d in (problem.details or []) if isinstance(d, dict) and d.get("order_id")]
            error = page.t.error(problem.code, problem.message)
            if named:
                error += " " + page.t("inbox.bundle_stopped_by", ref=str(named[0])[:8])
            return await show_inbox(page, _shown(problem), error=error, **keep)
        gone = [{"order_id": m["order_id"], "status": m["status"]} for m in bundle["members"]]
        return await show_inbox(page, bundle=bundle, results_gone=gone)

    # --- a new order (the shop's checkout, in its simplest form)
    def new_order_values(page: Page) -> dict[str, Any]:
        company = page.me.get("company", {})
        return {"name": company.get("name", ""), "street": "", "postal_code": "", "city": "", "country": "DE",
                "reference": "", "comment": "", "key": str(uuid4()),
                **{f"sku-{i}": "" for i in range(NEW_ORDER_LINES)},
                **{f"qty-{i}": "" for i in range(NEW_ORDER_LINES)}}  # fmt: skip

    @r.get(u("/orders/new"))
    async def new_order(request: Request) -> Response:
        page = await web.signed_in(request)
        return web.render(page, "new_order.html.j2", values=new_order_values(page), lines=NEW_ORDER_LINES, errors={})

    @r.post(u("/orders/new"))
    async def submit_order(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        values = {**new_order_values(page), **{k: str(v).strip() for k, v in form.items() if isinstance(v, str)}}
        errors: dict[str, str] = {}
        lines = []
        for i in range(NEW_ORDER_LINES):
            sku, qty = values[f"sku-{i}"], values[f"qty-{i}"]
            if not sku and not qty:
                continue
            quantity = _int(qty)
            if not sku:
                errors[f"sku-{i}"] = page.t("common.required")
            if quantity is None or quantity < 1:
                errors[f"qty-{i}"] = page.t("error.invalid_request")
            elif sku:
                lines.append({"sku": sku, "quantity": quantity})
        for name in ADDRESS_FIELDS:
            if not values[name]:
                errors[name] = page.t("common.required")
        if not lines and "sku-0" not in errors:
            errors["sku-0"] = page.t("common.required")
        if errors:
            return web.render(page, "new_order.html.j2", status=422, values=values, lines=NEW_ORDER_LINES,
                              errors=errors, error=page.t("error.validation_failed"))  # fmt: skip
        address = {k: values[k] for k in ADDRESS_FIELDS}
        body: dict[str, Any] = {"lines": lines, "delivery_address": address, "billing_address": address,
                                "payment_method": "invoice", "shipping_method": "standard"}  # fmt: skip
        if values["reference"]:
            body["reference"] = values["reference"]
        if values["comment"]:
            body["buyer_comment"] = values["comment"]
        try:
            # one key per form: a double click or a retried POST is one order
            key = values["key"] if _uuid(values["key"]) else str(uuid4())
            order = await web.call(page, "POST", "/api/orders", json=body, headers={"Idempotency-Key": key})
        except ApiProblem as problem:
            return web.render(page, "new_order.html.j2", status=_shown(problem), values=values, lines=NEW_ORDER_LINES,
                              errors={}, error=page.t.error(problem.code, problem.message))  # fmt: skip
        return web.redirect(page, f"/orders/{order['id']}", flash=("info", "order.submitted_msg"))

    # --- one order
    async def load(page: Page, order_id: UUID) -> dict[str, Any]:
        return await web.call(page, "GET", f"/api/orders/{order_id}")

    async def substituting(page: Page, order: dict[str, Any]) -> dict[str, Any] | None:
        """The absent approver of a waiting order whom the caller substitutes now (ADR 0020), so the page offers
        the decision; only a hint — the API judges the decision itself."""
        me_id = page.me.get("user", {}).get("id")
        approvers = {a["id"] for a in order["approvers"]}
        if order["status"] != "pending_approval" or me_id in approvers or order["buyer"]["id"] == me_id:
            return None
        try:
            absences = await web.call(page, "GET", "/api/absences")
        except ApiProblem:
            return None
        for a in absences.get("items") or []:
            if a["state"] == "in_force" and a["substitute"]["id"] == me_id and a["approver"]["id"] in approvers:
                return a["approver"]
        return None

    async def explanation(page: Page, order: dict[str, Any]) -> dict[str, Any] | None:
        """Why the order went where it went (ADR 0028), for whoever may read it (its buyer, its deciders, the main
        contact, the controller); to anyone else — or while approval cannot answer — the page has no such section."""
        try:
            found: dict[str, Any] = await web.call(page, "GET", f"/api/orders/{order['id']}/explanation")
        except ApiProblem:
            return None
        return found

    async def show(
        page: Page, order: dict[str, Any], status: int = 200, error: str | None = None, **extra: Any
    ) -> Response:
        me_id = page.me.get("user", {}).get("id")
        is_buyer = order["buyer"]["id"] == me_id
        is_approver = any(a["id"] == me_id for a in order["approvers"])
        substitute_for = await substituting(page, order)
        open_ = order["status"] in ("pending_approval", "rejected", "expired")
        return web.render(
            page,
            "order.html.j2",
            status=status,
            order=order,
            error=error,
            substitute_for=substitute_for,
            why=await explanation(page, order),
            may_decide=(is_approver or substitute_for is not None) and order["status"] == "pending_approval",
            may_resubmit=is_buyer and order["status"] in ("rejected", "expired"),
            may_cancel=is_buyer and open_,
            may_comment=(is_buyer or is_approver or substitute_for is not None) and open_,
            **extra,
        )

    @r.get(u("/orders/{order_id}"))
    async def order_page(request: Request, order_id: UUID) -> Response:
        page = await web.signed_in(request)
        return await show(page, await load(page, order_id))

    @r.post(u("/orders/{order_id}/{action}"))
    async def decide(request: Request, order_id: UUID, action: str) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        order = await load(page, order_id)
        comment = str(form.get("comment") or "").strip()
        version = {"If-Match": f'"{order["version"]}"'}
        body: dict[str, Any]
        if action == "approve":
            body, done = ({"comment": comment} if comment else {}), "order.approved_msg"
        elif action == "approve-changed":
            quantities = _quantities(form, order)
            if quantities is None or not any(quantities.values()):
                return await show(page, order, 422, page.t("error.validation_failed"))
            body = {"modified_order": _order_body(order, quantities)} | ({"comment": comment} if comment else {})
            action, done = "approve", "order.approved_msg"
        elif action == "reject":
            if not comment:
                return await show(page, order, 422, page.t("order.reject_comment") + ": " + page.t("common.required"))
            body, done = {"comment": comment}, "order.rejected_msg"
        elif action == "resubmit":
            quantities = _quantities(form, order)
            if quantities is None or not any(quantities.values()) or not comment:
                return await show(page, order, 422, page.t("error.validation_failed"))
            body, done = {"comment": comment, "order": _order_body(order, quantities)}, "order.resubmitted_msg"
        elif action == "cancel":
            body, done = ({"comment": comment} if comment else {}), "order.cancelled_msg"
        elif action == "comments":
            if not comment:
                return await show(page, order, 422, page.t("common.comment") + ": " + page.t("common.required"))
            body, done = {"text": comment}, "order.comment_msg"
        else:
            return await show(page, order, 404, page.t("error.not_found"))
        try:
            await web.call(page, "POST", f"/api/orders/{order_id}/{action}", json=body, headers=version)
        except ApiProblem as problem:
            return await show(
                page, await load(page, order_id), _shown(problem), page.t.error(problem.code, problem.message)
            )
        return web.redirect(page, f"/orders/{order_id}", flash=("info", done))

    return r


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _shown(problem: ApiProblem) -> int:
    """The status of a page that shows a refusal again: the API's for a 4xx; 503 when a service was away (the form
    is still there with what was typed; sending it again is safe: orders carry their idempotency key)."""
    return problem.status if problem.status < 500 else 503
