"""Use cases of the approval service, one method each; ids in and out.

Callers are identified by the e-mail of their verified token; who they are, which company they belong to,
whether they are active and what they may do comes from approval's own view of the users service's events
(:mod:`approval.domain.members`), never from the token.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar
from uuid import UUID, uuid4

import structlog
from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresRecorder
from psycopg.sql import SQL, Identifier

from approval.application.bundles import BundleUseCases
from approval.application.credit import Credits
from approval.application.deadlines import DeadlineUseCases
from approval.application.tiers import PolicyUseCases
from approval.domain.absences import (
    Absence,
    AbsenceNotFound,
    Absences,
    check_people,
    may_approve,
    may_manage_absences,
    may_see,
    visible,
)
from approval.domain.budget import Budget, LimitExceeded, Period, PeriodBudget, evaluate
from approval.domain.bundles import BundleLine, BundleMember, OrderBundle
from approval.domain.credit import CompanyCredit, CreditFigures, CreditHold, CreditStand, Exposure, Waiting
from approval.domain.deadlines import Deadlines
from approval.domain.growing import SNAPSHOT_EVERY, GrowingSnapshot
from approval.domain.ledger import RESERVED, BudgetLedger, Entry, Figures
from approval.domain.members import (
    APPROVE_ORDERS,
    PLACE_ORDERS,
    VIEW_COMPANY_ORDERS,
    CompanyView,
    Member,
    MemberEmail,
    MemberSubject,
    Names,
)
from approval.domain.model import (
    Address,
    Change,
    Comment,
    IdempotencyKeyReused,
    InvalidOrder,
    NotAllowed,
    Order,
    OrderContent,
    OrderError,
    OrderLine,
    OrderNotFound,
    OrderStatus,
    TierApproval,
    TierPosition,
    VersionMismatch,
)
from approval.domain.pricing import ArticlePrice, OrderRequest, PriceBreak, price_lines
from approval.domain.routing import deciders, route
from approval.domain.tiers import Step, Tier
from kc_runtime.blind_index import DEVELOPMENT_INDEX_SECRET, BlindIndex
from kc_runtime.consumer import MISSING, preloaded
from kc_runtime.eventstore import ServiceApplication, replay, uuid_array
from kc_runtime.sealing import KeyRing, Personal
from kc_runtime.transcoding import dataclass_transcoding


class UnknownCaller(OrderError):
    code = "unknown_user"


class IdentityMismatch(UnknownCaller):
    code = "identity_mismatch"


class EmailNotVerified(UnknownCaller):
    code = "email_not_verified"


class CallerInactive(OrderError):
    code = "user_inactive"


class OrderingBlocked(OrderError):
    code = "ordering_blocked"


class TooManyOrders(InvalidOrder):
    code = "too_many_orders"


class DuplicateOrders(InvalidOrder):
    code = "duplicate_order_ids"


class DecidedConcurrently(OrderError):
    """Another request changed the order between its read and this decision's save (as a single decision's 409)."""

    code = "conflict"


MANAGE_BUDGETS = "manage_budgets"

DECISIONS_MAX = 100
RE_EVALUATION_MAX = 500
"""How many pending orders one re-evaluation judges (the oldest first); the answer says when more remain."""
"""How many orders one bulk decision may name."""

_ABSENCE_ATTEMPTS = 5
"""How often recording an absence runs again when the company's absences, or a waiting order it offers to the
substitute, changed between its read and its save."""

OFFERED_WAITING_MAX = 500
"""At most this many orders already waiting are offered to a new substitute with a mail (each order's event); more
are offered in the substitute's inbox only."""

log = structlog.get_logger(__name__)

_LEDGER_ATTEMPTS = 40
"""How often a use case that changes a period budget's ledger runs again when another order changed the ledger
between its read and its save (the event store's version check); each run judges on the ledger as it is then."""

T = TypeVar("T")


@dataclass(frozen=True)
class Decision:
    """What became of one order of a bulk decision (:meth:`Orders.decide`)."""

    order_id: UUID
    order: Order | None
    """The order as it stands after this step, whether decided or not; None when the caller may not see it (or
    it does not exist: the two are never told apart)"""
    error: OrderError | None = None
    """Why it was not decided: the error a single decision of this order would have answered"""


@dataclass(frozen=True)
class Evaluation:
    content: OrderContent
    """the order as priced from the ERP's prices at the moment of the evaluation"""
    exceeded: tuple[LimitExceeded, ...]
    """per order and per period"""
    budget: Budget
    approvers: tuple[UUID, ...]
    period: Figures | None = None
    """where the buyer's period budget stood, before this order (None: no period budget)"""
    ledger: BudgetLedger | None = None
    """the period budget's ledger the order was judged on (a submission reserves in it)"""
    step: Step | None = None
    """under a tiered approval policy: the tier the order would wait at (ADR 0025)"""

    @property
    def fits_period(self) -> bool:
        return not any(x.limit.startswith("period_") for x in self.exceeded)


@dataclass(frozen=True)
class Verdict:
    """What a pending order is (or was) judged on, and what came of it."""

    status: OrderStatus
    budget: Budget
    exceeded: tuple[LimitExceeded, ...]
    approvers: tuple[UUID, ...]
    policy_version: int | None = None
    """the approval policy's version the order's tier was judged on (None: routed by the approver list)"""

    @classmethod
    def of(cls, order: Order) -> Verdict:
        p = order.position
        return cls(order.status, order.budget, order.exceeded, order.approvers, p.policy_version if p else None)

    def same_as(self, other: Verdict) -> bool:
        """The same verdict: the same budget, limits exceeded and routing (a period limit's figures — what other
        orders reserved meanwhile — do not make it another verdict)."""
        return (self.status, self.budget, self.approvers, _limits(self.exceeded), self.policy_version) == (
            other.status, other.budget, other.approvers, _limits(other.exceeded), other.policy_version
        )  # fmt: skip


def _limits(exceeded: tuple[LimitExceeded, ...]) -> tuple[object, ...]:
    return tuple(
        (x.limit, x.reason, x.period, x.budget, x.actual) if x.limit.startswith("period_") else x for x in exceeded
    )


@dataclass(frozen=True)
class ReJudgement:
    """One pending order of a re-evaluation (:meth:`Orders.re_evaluate`)."""

    order_id: UUID
    outcome: Literal["released", "updated", "unchanged"]
    """``released`` (sent on to the ERP), ``updated`` (still pending, judged anew) or ``unchanged``"""
    before: Verdict
    after: Verdict
    kept_because: str | None = None
    """``unchanged`` although the order fits now: the error code a release would meet (``price_changed``, an
    article no longer orderable …) — an approver decides it, seeing the current prices"""


class _OneRead(threading.local):
    """What one request's use case and its response read, in the thread that runs them (:meth:`Orders.one_read`).

    ``versions``: the latest stored version of each aggregate asked about (None: nothing stored), read in as few
    queries as the use case can name ids up front; ``events``: each order's events as loaded and as saved since,
    so the response's timeline is built from what was just read and written instead of read again."""

    versions: dict[UUID, int | None] | None = None
    events: dict[UUID, list[Any]] | None = None


class _VersionCheckedCache:
    """Aggregates read on every request and seldom changed (members, their e-mail index, companies), kept in the
    process and checked against the store's latest versions at every use: as fresh as loading them from their
    events (a change saved by any process counts at once), for one small query instead of reading and replaying
    their events. The instances are shared between threads: read them, never change them."""

    def __init__(self, app: Orders, maxsize: int = 20_000) -> None:
        self.app = app
        self.maxsize = maxsize
        self._cache: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ids: Sequence[UUID], versions: dict[UUID, int] | None = None) -> dict[UUID, Any]:
        """The current aggregates of ``ids`` (absent: none stored). ``versions``: their latest, if known."""
        ids = list(dict.fromkeys(ids))
        latest = versions if versions is not None else self.app.latest_versions(ids)
        out: dict[UUID, Any] = {}
        for i in ids:
            version = latest.get(i)
            if version is None:
                continue
            with self._lock:
                cached = self._cache.get(i)
                if cached is not None:
                    self._cache.move_to_end(i)
            if cached is None or cached.version != version:
                cached = self._load(i, cached)
                with self._lock:
                    self._cache[i] = cached
                    while len(self._cache) > self.maxsize:
                        self._cache.popitem(last=False)
            out[i] = cached
        return out

    def cached(self, i: UUID) -> Any:
        with self._lock:
            return self._cache.get(i)

    def _load(self, i: UUID, cached: Any) -> Any:
        """The aggregate as stored now, replayed from its events."""
        return self.app.repository.get(i)


class _GrowingCache(_VersionCheckedCache):
    """:class:`_VersionCheckedCache` for the aggregates every order changes (approval.domain.growing): a stale one
    is brought up to date with only the events stored since (one query of a few rows, however long its history),
    and one not cached yet is read from its latest snapshot on. Every :data:`SNAPSHOT_EVERY` events, a snapshot."""

    def _load(self, i: UUID, cached: Any) -> Any:
        if cached is not None:
            newer = list(self.app.events.get(i, gt=cached.version))
            if newer:
                found = replay(copy.deepcopy(cached), newer)
                if found is not None and found.version // SNAPSHOT_EVERY > cached.version // SNAPSHOT_EVERY:
                    self._snapshot(found)
                return found
        snapshots = self.app.snapshots
        latest = list(snapshots.get(i, desc=True, limit=1)) if snapshots is not None else []
        events = list(self.app.events.get(i, gt=latest[0].originator_version if latest else None))
        found = replay(None, [*latest, *events])
        if found is not None and len(events) >= SNAPSHOT_EVERY:
            self._snapshot(found)
        return found

    def _snapshot(self, aggregate: Any) -> None:
        """Store the state at its version (best effort: another process may have stored it; the events are the
        truth either way), and drop the aggregate's older snapshots: only the latest is ever read."""
        if self.app.snapshots is None:
            return
        try:
            self.app.snapshots.put([GrowingSnapshot.take(aggregate)])
        except IntegrityError:  # another thread or replica brought it up to date over the same version
            log.debug("snapshot stored already", aggregate=str(aggregate.id), version=aggregate.version)
            return
        except Exception as exc:
            log.warning("snapshot not stored", aggregate=str(aggregate.id), version=aggregate.version, error=repr(exc))
            return
        try:
            self._prune(aggregate.id, aggregate.version)
        except Exception as exc:  # kept: the next snapshot prunes them
            log.warning("older snapshots not pruned", aggregate=str(aggregate.id), error=repr(exc))

    def _prune(self, aggregate_id: UUID, version: int) -> None:
        """Delete the snapshots of ``aggregate_id`` older than ``version`` (PostgreSQL; the in-memory store of the
        tests keeps them)."""
        recorder = getattr(self.app.snapshots, "recorder", None)
        if not isinstance(recorder, PostgresAggregateRecorder):
            return
        statement = SQL("DELETE FROM {schema}.{table} WHERE originator_id = %s AND originator_version < %s").format(
            schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name)
        )
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute(statement, [aggregate_id, version])


def check_decisions(order_ids: Sequence[UUID]) -> None:
    """A bulk decision names 1 to :data:`DECISIONS_MAX` orders, each once."""
    if not order_ids:
        raise InvalidOrder("Name at least one order.")
    if len(order_ids) > DECISIONS_MAX:
        raise TooManyOrders(f"At most {DECISIONS_MAX} orders can be decided at once.")
    if len(set(order_ids)) != len(order_ids):
        raise DuplicateOrders("Each order may be named once.")


class Orders(BundleUseCases, DeadlineUseCases, PolicyUseCases, ServiceApplication):
    name = "Orders"
    is_snapshotting_enabled = True
    """the snapshot store (``orders_snapshots``), for the aggregates that grow with the orders only (_GrowingCache)"""

    personal_data: ClassVar[Mapping[type, Personal | tuple[Personal, ...]]] = {
        # a member's names and e-mail, as users told them (the member's id is the user's)
        Member.Joined: Personal("approval/member", ("email", "first_name", "last_name")),
        Member.Updated: Personal("approval/member", ("changes.email", "changes.first_name", "changes.last_name")),
        # the words people wrote on orders: the buyer's checkout comment wherever a content is stored, each
        # decision's, resubmission's, cancellation's and conversation's comment by its author
        Order.Submitted: Personal("approval/order/content", ("content.buyer_comment",), owner="buyer_id"),
        Order.Modified: Personal("approval/order/content", ("content.buyer_comment",), owner="buyer_id"),
        Order.Released: Personal("approval/order/content", ("content.buyer_comment",), owner="buyer_id"),
        Order.Resubmitted: (
            Personal("approval/order/content", ("content.buyer_comment",), owner="buyer_id"),
            Personal("approval/order/resubmission", ("comment",), owner="buyer_id"),
        ),
        Order.Approved: Personal("approval/order/decision", ("comment",), owner="approver_id"),
        Order.Escalated: Personal("approval/order/decision", ("comment",), owner="approver_id"),
        Order.Rejected: Personal("approval/order/decision", ("comment",), owner="approver_id"),
        Order.Cancelled: Personal("approval/order/cancellation", ("comment",), owner="by"),
        Order.Commented: Personal("approval/order/conversation", ("comment.text",), owner="comment.author_id"),
        OrderBundle.Released: Personal("approval/bundle", ("comment",), owner="bundled_by"),
    }
    """What people wrote or are called, stored sealed with their own key (ADR 0035): once users destroys the key,
    the event store holds nothing readable of them, and these fields open as None. Delivery and billing addresses
    are the company's shipping data and stay plain (ADR 0035, approval's part); snapshots (GrowingSnapshot: ledgers
    and credit) hold none of these fields."""

    def construct_repository(self) -> Repository[UUID]:
        """Every other aggregate is short-lived or seldom changed: read from its events, no snapshot query first."""
        return Repository(event_store=self.events)

    def __init__(self, env: Any = None, index_secret: bytes | None = None, key_ring: KeyRing | None = None) -> None:
        """``index_secret``: the service's blind index secret (``kc_runtime.blind_index.index_secret``; None: the
        development secret, for tests and the local stack). ``key_ring``: the persons' keys (ADR 0035; users'
        internal endpoint through ``kc_runtime.person_keys``) its event store seals :attr:`personal_data` with; None:
        stored as they are (tests)."""
        super().__init__(env, key_ring=key_ring)
        self._email_index = BlindIndex(index_secret or DEVELOPMENT_INDEX_SECRET, MemberEmail.INDEX)
        self._cached = _VersionCheckedCache(self)
        # apart: a big assortment never evicts members
        self._cached_prices = _VersionCheckedCache(self, maxsize=100_000)
        # apart: aggregates every order changes (approval.domain.growing), brought up to date event by event
        self._cached_growing = _GrowingCache(self, maxsize=20_000)
        self._one_read = _OneRead()
        self.credit = Credits(self)
        """the company's credit at the ERP (ADR 0026): the gate of every release, and its orders waiting for it"""
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        """The time of a request; absences are judged against it (tests move it)"""

    @contextmanager
    def one_read(self) -> Iterator[None]:
        """Run a request's use case and the reads of its response as one read: the versions of the aggregates it
        needs are asked for together (one query where the ids are known up front), and an order's timeline comes
        from the events just loaded and saved. Every version is read after the request arrived, so a change saved
        before it (a deactivation, a new price) counts exactly as with separate queries."""
        self._one_read.versions, self._one_read.events = {}, {}
        try:
            yield
        finally:
            self._one_read.versions = self._one_read.events = None

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for credit_cls in (CreditFigures, CreditStand, CreditHold):  # ADR 0026
            transcoder.register(dataclass_transcoding(credit_cls))
        # Entry, Exposure, Waiting: in the snapshots of approval.domain.growing
        for cls in (Address, OrderLine, OrderContent, Comment, Change, Budget, PeriodBudget, LimitExceeded, PriceBreak,
                    Period, Figures, TierPosition, TierApproval, Tier, Entry, Exposure, Waiting, Deadlines,
                    BundleLine, BundleMember):  # fmt: skip
            transcoder.register(dataclass_transcoding(cls))

    # ---- who is calling ---------------------------------------------------------------------------------

    def caller(self, who: Any) -> Member:
        """The active member a verified token names; refused at once when unknown or deactivated.

        ``who`` is what the token says (``kc_runtime.auth.Caller``): the member users bound to its (issuer,
        subject) at their first sign-in. A member users has not bound yet (their ``UserSignInBound`` has not
        arrived, or they never signed in at users) is found by the token's e-mail, only when the identity
        provider verified it — the same rule users applies when it binds; users stays the authority, and once
        the binding arrives a token with the member's e-mail but another subject is ``identity_mismatch``.

        The member is shared with other requests (:class:`_VersionCheckedCache`): read it, never change it.
        """
        issuer, subject = getattr(who, "issuer", None), getattr(who, "subject", None)
        member = None
        if isinstance(issuer, str) and isinstance(subject, str) and subject:
            member = self._member_by(MemberSubject.create_id(issuer, subject))
        if member is None:
            email = getattr(who, "email", None)
            member = self._member_by(*self.email_index_ids(email)) if isinstance(email, str) and email else None
            if member is None:
                raise UnknownCaller("This account is not known to the customer center.")
            if member.signed_in:
                raise IdentityMismatch("This e-mail address belongs to a user who signs in with another account.")
            if getattr(who, "email_verified", False) is not True:
                raise EmailNotVerified("The identity provider has not verified this e-mail address.")
        if not member.active:
            raise CallerInactive("This account has been deactivated.")
        return member

    def email_index_ids(self, email: str) -> tuple[UUID, UUID]:
        """The ids of an address's index: its blind index (ADR 0035 decision 4), then its legacy ``uuid5`` id
        (claimed before the blind index; read only while the blind index of the address is not stored)."""
        key = MemberEmail.key(email)
        return self._email_index.id(key), MemberEmail.legacy_id(key)

    def _member_by(self, *index_ids: UUID) -> Member | None:
        """The member an index (e-mail or sign-in) names, from the version-checked snapshots; of several ids of
        one index (an address's blind index and its legacy id), the first stored decides."""
        # one query for the versions of the index ids and (as last known) their members
        ids = list(index_ids)
        for i in index_ids:
            user_id = getattr(self._cached.cached(i), "user_id", None)
            if user_id is not None:
                ids.append(user_id)
        versions = self.latest_versions(ids)
        index_id = next((i for i in index_ids if i in versions), None)
        if index_id is None:
            return None
        index = self._cached.get([index_id], versions).get(index_id)
        if not isinstance(index, MemberEmail | MemberSubject) or index.user_id is None:
            return None
        if index.user_id not in versions:
            versions = self.latest_versions([index.user_id])
        member = self._cached.get([index.user_id], versions).get(index.user_id)
        return member if isinstance(member, Member) else None

    def company(self, company_id: UUID) -> CompanyView | None:
        found = self._cached.get([company_id]).get(company_id)
        return found if isinstance(found, CompanyView) else None

    def latest_versions(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        """The version of the latest stored event of each of ``ids`` (absent: nothing stored); inside
        :meth:`one_read`, once per id and request."""
        known = self._one_read.versions
        if known is None:
            return self._query_versions(ids)
        missing = [i for i in ids if i not in known]
        if missing:
            found = self._query_versions(missing)
            known.update({i: found.get(i) for i in missing})
        return {i: v for i in ids if (v := known[i]) is not None}

    def _query_versions(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        if not ids:
            return {}
        table = self.events_table_name
        if table and isinstance(self.recorder, PostgresRecorder):  # one round trip, nothing decoded
            datastore = self.recorder.datastore
            statement = SQL(
                "SELECT originator_id, max(originator_version) AS version FROM {schema}.{table}"
                " WHERE originator_id = ANY(%s::uuid[]) GROUP BY originator_id"
            ).format(schema=Identifier(datastore.schema), table=Identifier(table))
            with datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(statement, [uuid_array(ids)], prepare=True)
                return {row["originator_id"]: row["version"] for row in curs.fetchall()}
        out = {}
        for i in ids:
            last = self.recorder.select_events(i, desc=True, limit=1)
            if last:
                out[i] = last[0].originator_version
        return out

    # ---- the buyer ----------------------------------------------------------------------------------------

    def evaluate(self, buyer: Member, request: OrderRequest, at: datetime | None = None) -> Evaluation:
        """The order priced from the ERP's prices and checked against the buyer's budget, as a dry run (the
        shop's checkout page); the same evaluation decides a submission."""
        self._require(buyer, PLACE_ORDERS)
        self._prefetch_for_pricing(buyer, request)
        company = self._company_for_orders(buyer)
        at = at or datetime.now(UTC)
        content = self.price(company, request, at)
        exceeded = evaluate(content, buyer.budget)
        ledger = figures = None
        if buyer.budget.period is not None:
            ledger = self._ledger(buyer, buyer.budget.period, at)
            figures = ledger.figures(buyer.budget.period)
            exceeded += ledger.judge(None, content.total_value, content.total_quantity, content.currency,
                                     buyer.budget.period)  # fmt: skip
        step = self._first_step(company, buyer.id, content) if exceeded else None
        approvers = route(buyer.id, company.approver_ids, company.main_contact_id) if exceeded else ()
        return Evaluation(content, exceeded, buyer.budget, step.approvers if step else approvers, figures, ledger, step)

    def _ledger(self, buyer: Member, budget: PeriodBudget, at: datetime) -> BudgetLedger:
        """The buyer's ledger of the period ``at`` falls into, as stored now (new: opened, not saved yet)."""
        period = Period.of(budget.period, at)
        found = self._find_growing(BudgetLedger.create_id(buyer.id, period.key))
        return found if isinstance(found, BudgetLedger) else BudgetLedger.open(buyer.id, buyer.company_id, period)

    def period_budget(self, member: Member, user_id: UUID | None = None) -> tuple[Member, Figures | None]:
        """Where a buyer's period budget stands in the current period: the caller's own, or (the main contact, or
        who manages budgets) a user of their company's. None: the user has no period budget."""
        target = member
        if user_id is not None and user_id != member.id:
            found = self._cached.get([user_id]).get(user_id)
            if not isinstance(found, Member) or found.company_id != member.company_id:
                raise OrderNotFound("Not found.")
            if not (member.is_main_contact or member.can(MANAGE_BUDGETS)):
                raise NotAllowed("Your role does not allow viewing other users' budgets.")
            target = found
        budget = target.budget.period
        if budget is None:
            return target, None
        return target, self._ledger(target, budget, datetime.now(UTC)).figures(budget)

    def _on_ledger(self, attempt: Callable[[list[BudgetLedger]], T]) -> T:
        """Run a use case that may change a period budget's ledger. It names the ledgers it read in the list it is
        given; when its save then fails on a version (another order changed the ledger since), it runs again from
        the start, on the ledger as stored then — so what it judged and what it saved never differ. A conflict
        with no ledger involved is the caller's (HTTP 409), as before."""
        for n in range(_LEDGER_ATTEMPTS):
            ledgers: list[BudgetLedger] = []
            self.credit.begin()
            try:
                with self.credit.shared():  # orders judged in one attempt take their parts of one copy
                    return attempt(ledgers)
            except IntegrityError:
                if not (ledgers or self.credit.involved()) or n == _LEDGER_ATTEMPTS - 1:
                    raise
                if self._one_read.versions is not None:  # the next attempt reads what is stored then
                    self._one_read.versions.clear()
                time.sleep(random.uniform(0, 0.002 * min(n + 1, 10)))  # not in step with the other writers
        raise AssertionError("unreachable")

    def _ledger_of(self, order: Order, ledgers: list[BudgetLedger]) -> BudgetLedger | None:
        """The order's period-budget ledger: the attempt's copy when it read it already (several orders of one buyer's
        period, e.g. in a bundle, change one copy), else as stored now."""
        if order.ledger_id is None:
            return None
        read = next((x for x in ledgers if x.id == order.ledger_id), None)
        if read is not None:
            return read
        ledger = self._find_growing(order.ledger_id)
        if not isinstance(ledger, BudgetLedger):
            return None
        ledgers.append(ledger)
        return ledger

    def price(self, company: CompanyView, request: OrderRequest, at: datetime) -> OrderContent:
        """The request priced from the company's ERP prices valid ``at`` (see :func:`price_lines`)."""
        customer = company.customer_number
        found = self._prices(customer, [ln.sku for ln in request.lines]) if customer else {}
        lines, currency = price_lines(request.lines, found, company.currency, at)
        return request.priced(lines, currency)

    def _prices(self, customer_number: str, skus: Sequence[str]) -> dict[str, ArticlePrice]:
        ids = {ArticlePrice.create_id(customer_number, sku): sku for sku in skus}
        found = self._cached_prices.get(list(ids))
        return {ids[i]: p for i, p in found.items() if isinstance(p, ArticlePrice)}

    def submit(self, buyer: Member, request: OrderRequest, idempotency_key: str | None = None) -> Order:
        """Priced from the ERP's prices; within budget: released to the ERP at once, over budget: held for the
        company's approvers.

        ``idempotency_key`` (the client's, per buyer): the submission is made once; the same key again returns
        that order as it is now (also when both arrive at the same time), with other lines it is refused."""
        if idempotency_key is not None:
            existing = self._submitted_before(buyer, request, idempotency_key)
            if existing is not None:
                return existing

        def attempt(ledgers: list[BudgetLedger]) -> Order:
            now = self.clock()
            evaluation = self.evaluate(buyer, request, now)
            ledger = evaluation.ledger
            order = Order(
                company_id=buyer.company_id, buyer_id=buyer.id, content=evaluation.content, budget=evaluation.budget,
                submitted_at=now, idempotency_key=idempotency_key, ledger_id=ledger.id if ledger else None,
                period_figures=evaluation.period,
            )  # fmt: skip
            self.credit.attach(order)
            self._route(order, evaluation, now)
            if ledger is not None:
                ledgers.append(ledger)
                self._reserve(order, evaluation, now)
            try:
                self.save(*[o for o in (order, ledger) if o is not None])
            except IntegrityError:
                if idempotency_key is None:
                    raise
                existing = self._submitted_before(buyer, request, idempotency_key)  # the same key, a moment earlier
                if existing is None:
                    raise
                return existing
            return order

        return self._on_ledger(attempt)

    @staticmethod
    def _reserve(order: Order, evaluation: Evaluation, now: datetime) -> None:
        """An order that fits into what is left of the period budget takes its part now (also when a per-order
        limit holds it for approval); one that does not fit takes nothing until an approver releases it."""
        ledger, budget, c = evaluation.ledger, evaluation.budget.period, order.content
        if ledger is not None and budget is not None and evaluation.fits_period:
            ledger.reserve(order.id, c.total_value, c.total_quantity, c.currency, budget, now)

    def _submitted_before(self, buyer: Member, request: OrderRequest, idempotency_key: str) -> Order | None:
        order_id = Order.create_id(buyer.company_id, buyer.id, idempotency_key)
        try:
            order: Any = self.repository.get(order_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(order, Order) or order.buyer_id != buyer.id:
            return None
        if not request.matches(order.submitted_content):
            raise IdempotencyKeyReused("This Idempotency-Key was used for another order; use a new key.")
        return order

    def resubmit(self, buyer: Member, order_id: UUID, comment: str, request: OrderRequest) -> Order:
        """A rejected order, back with a comment and adjusted lines: priced and evaluated again, as one case."""

        def attempt(ledgers: list[BudgetLedger]) -> Order:
            order = self._visible_order(buyer, order_id)
            now = self.clock()
            evaluation = self.evaluate(buyer, request, now)
            ledger = evaluation.ledger
            order.resubmit(buyer.id, comment, evaluation.content, evaluation.budget, now, ledger.id if ledger else None,
                           evaluation.period)  # fmt: skip
            self._route(order, evaluation, now)
            if ledger is not None:
                ledgers.append(ledger)
                self._reserve(order, evaluation, now)
            self.save(*[o for o in (order, ledger) if o is not None])
            return order

        return self._on_ledger(attempt)

    def cancel(self, buyer: Member, order_id: UUID, comment: str | None = None) -> Order:
        """The buyer withdraws a pending or rejected order; its reservation of the period budget is released."""

        def attempt(ledgers: list[BudgetLedger]) -> Order:
            order = self._visible_order(buyer, order_id)
            now = datetime.now(UTC)
            waiting: list[Any] = []
            if order.status is OrderStatus.CREDIT_HOLD:  # the main contact too (ADR 0026)
                waiting = self.credit.cancel(buyer, order, comment, now)
            else:
                order.cancel(buyer.id, now, comment)
            ledger = self._ledger_of(order, ledgers)
            if ledger is not None:
                ledger.release(order.id, now)
            self.save(*[o for o in (order, ledger, *waiting) if o is not None])
            return order

        return self._on_ledger(attempt)

    # ---- approvers --------------------------------------------------------------------------------------

    def approve(
        self, approver: Member, order_id: UUID, comment: str | None = None, modified: OrderRequest | None = None
    ) -> Order:
        """Approve the order as it is, or as the approver changed it (quantities, lines, addresses, methods).
        Either way it is priced again at this moment: an approver never types prices, and never releases an order
        whose prices changed since they saw it without seeing the new ones (``price_changed``; approving again
        with the lines as shown then goes through as a visible modification)."""

        def attempt(ledgers: list[BudgetLedger]) -> Order:
            order = self._visible_order(approver, order_id)
            now = self.clock()
            on_behalf_of = self._decides_for(approver, order, now)
            request = modified if modified is not None else OrderRequest.of(order.content)
            priced = self.price(self._company_to_read(order.company_id), request, now)
            step = self._tier_escalation(order, approver, priced)
            if step is not None:  # approved at a tier below the order's value: it climbs (ADR 0025)
                order.escalate(approver.id, now, step.approvers, step.position, comment, priced, on_behalf_of)
                self._offer_to_substitutes(order, now)
                self.save(order)
                return order
            order.approve(approver.id, now, comment, priced, on_behalf_of)
            ledger = self._ledger_of(order, ledgers)
            if ledger is not None:  # the released amount, as modified, fitting or not: the approver decided
                c = order.content
                ledger.grant(order.id, c.total_value, c.total_quantity, c.currency, order.budget.period, approver.id,
                             now)  # fmt: skip
            self.save(*[o for o in (order, ledger) if o is not None])
            return order

        return self._on_ledger(attempt)

    def reject(self, approver: Member, order_id: UUID, comment: str) -> Order:
        """Reject with a comment; the order's reservation of the period budget is released."""

        def attempt(ledgers: list[BudgetLedger]) -> Order:
            order = self._visible_order(approver, order_id)
            now = self.clock()
            on_behalf_of = self._decides_for(approver, order, now)
            order.reject(approver.id, comment, now, on_behalf_of)
            ledger = self._ledger_of(order, ledgers)
            if ledger is not None:
                ledger.release(order.id, now)
            self.save(*[o for o in (order, ledger) if o is not None])
            return order

        return self._on_ledger(attempt)

    def decide(
        self, approver: Member, decision: str, order_ids: Sequence[UUID], comment: str | None = None
    ) -> list[Decision]:
        """Approve or reject several orders at once, with one comment for all (``decision``: ``approve`` or
        ``reject``; a rejection needs a comment). At most :data:`DECISIONS_MAX` orders, each named once.

        Each order is decided by :meth:`approve` or :meth:`reject` — exactly the checks of a single decision
        (the permission, routed to the approver, never one's own order, pending, priced again) — in a transaction
        of its own: an order that cannot be decided is reported with the error its single decision would have
        answered, and the others are decided all the same. Nothing is decided twice: sent again (a client's
        retry), an order decided the first time answers ``wrong_state`` with its state, like a single decision,
        and no second event is stored. Another company's order answers exactly like one that does not exist."""
        if decision not in ("approve", "reject"):
            raise InvalidOrder("The decision is approve or reject.")
        check_decisions(order_ids)
        if decision == "reject" and not (comment or "").strip():
            raise InvalidOrder("A rejection needs a comment for the buyer.")
        out = []
        for order_id in order_ids:
            try:
                if decision == "approve":
                    order = self.approve(approver, order_id, comment)
                else:
                    order = self.reject(approver, order_id, comment or "")
                out.append(Decision(order_id, order))
            except OrderNotFound as error:
                out.append(Decision(order_id, None, error))
            except OrderError as error:
                out.append(Decision(order_id, self._seen_by(approver, order_id), error))
            except IntegrityError:
                conflict = DecidedConcurrently("Changed concurrently by another request; reload and try again.")
                out.append(Decision(order_id, self._seen_by(approver, order_id), conflict))
        return out

    # ---- re-evaluation of pending orders (ADR 0024) ----------------------------------------------------------

    def check_re_evaluation(self, member: Member, buyer_id: UUID | None = None) -> None:
        """May ``member`` re-evaluate (their company's, or ``buyer_id``'s) pending orders: the main contact or who
        manages budgets; a user of another company is not found, like one that does not exist."""
        if not (member.is_main_contact or member.can(MANAGE_BUDGETS)):
            raise NotAllowed("Only the main contact or who manages budgets re-evaluates pending orders.")
        if buyer_id is not None:
            self._colleague(member, buyer_id)

    def re_evaluate(
        self, member: Member, pending: Sequence[UUID], buyer_id: UUID | None = None, dry_run: bool = False
    ) -> list[ReJudgement]:
        """Judge pending orders of the caller's company (``pending``, oldest first, from the read model; at most
        :data:`RE_EVALUATION_MAX`) on today's budgets of their buyers: an order that fits now is released to the
        ERP as any release; one that still exceeds stays pending with the limits and routing of today. An order
        whose verdict changes gets an event naming the caller (its timeline); ``dry_run``: judged in the same
        way, one after the other (an earlier order's reservation counts for the next), and nothing is stored.

        Each order is judged and saved on its own, with its period budget's ledger (again from the start when
        another order changed the ledger meanwhile): what was judged and what was saved never differ."""
        self.check_re_evaluation(member, buyer_id)
        out: list[ReJudgement] = []
        held: dict[UUID, BudgetLedger] = {}  # a dry run's ledgers, as its own earlier judgements left them
        for order_id in list(dict.fromkeys(pending))[:RE_EVALUATION_MAX]:
            for n in range(_LEDGER_ATTEMPTS):
                try:
                    found = self._re_judge(member, order_id, buyer_id, held if dry_run else None)
                    break
                except IntegrityError:
                    if n == _LEDGER_ATTEMPTS - 1:
                        raise
                    time.sleep(random.uniform(0, 0.002 * min(n + 1, 10)))
            if found is not None:
                out.append(found)
        return out

    def _re_judge(
        self, member: Member, order_id: UUID, buyer_id: UUID | None, held: dict[UUID, BudgetLedger] | None
    ) -> ReJudgement | None:
        order = self._find(order_id)
        if (
            not isinstance(order, Order)
            or order.company_id != member.company_id
            or order.status is not OrderStatus.PENDING_APPROVAL
            or (buyer_id is not None and order.buyer_id != buyer_id)
        ):
            return None  # decided or cancelled since the read model listed it
        before = Verdict.of(order)
        buyer = self._cached.get([order.buyer_id]).get(order.buyer_id)
        if not isinstance(buyer, Member):
            return ReJudgement(order.id, "unchanged", before, before)
        now = self.clock()

        def ledger(ledger_id: UUID) -> BudgetLedger | None:
            if held is not None and ledger_id in held:
                return held[ledger_id]
            found = self._find_growing(ledger_id)
            if isinstance(found, BudgetLedger) and held is not None:
                held[ledger_id] = found
            return found if isinstance(found, BudgetLedger) else None

        c, budget = order.content, buyer.budget
        exceeded = evaluate(c, budget)
        old = ledger(order.ledger_id) if order.ledger_id is not None else None
        new: BudgetLedger | None = None
        if budget.period is not None:
            if old is not None and old.period.kind == budget.period.period:
                new = old  # judged in the period it was submitted in
            else:
                period = Period.of(budget.period.period, now)
                new = ledger(BudgetLedger.create_id(buyer.id, period.key)) or BudgetLedger.open(
                    buyer.id, buyer.company_id, period
                )
                if held is not None:
                    held[new.id] = new
            exceeded += new.judge(order.id, c.total_value, c.total_quantity, c.currency, budget.period)
        company = self._company_to_read(order.company_id)
        approvers, position, restart = self._re_routed(order, company, bool(exceeded))
        version = before.policy_version if isinstance(position, bool) else position.policy_version if position else None
        judged = Verdict(OrderStatus.PENDING_APPROVAL if exceeded else OrderStatus.RELEASED, budget, exceeded,
                         approvers, version if exceeded else None)  # fmt: skip
        if judged.same_as(before):
            return ReJudgement(order.id, "unchanged", before, before)
        if not exceeded:  # released only at the ERP's prices of now, as an approval would (it prices again)
            try:
                self.price(company, OrderRequest.of(c), now)
            except OrderError as error:
                return ReJudgement(order.id, "unchanged", before, before, error.code)
        if old is not None and old is not new:
            old.release(order.id, now)  # the reservation moves with the order (or goes: no period budget now)
        if new is not None and budget.period is not None:
            if not any(x.limit.startswith("period_") for x in exceeded):
                if new.entries.get(order.id) != Entry(c.total_value, c.total_quantity, c.currency, RESERVED):
                    new.reserve(order.id, c.total_value, c.total_quantity, c.currency, budget.period, now)
            else:
                new.release(order.id, now)  # as at submission: an order that does not fit takes nothing
        changed: list[Any] = [order, *{id(x): x for x in (old, new) if x is not None}.values()]
        figures = new.figures(budget.period, leaving_out=order.id) if new is not None and budget.period else None
        order.re_evaluate(member.id, now, budget, exceeded, approvers, new.id if new is not None else None, figures,
                          position, restart)  # fmt: skip
        if order.status is OrderStatus.PENDING_APPROVAL:
            self._offer_to_substitutes(order, now)
        if held is None:
            self.save(*changed)
        released = order.status is OrderStatus.RELEASED
        return ReJudgement(order.id, "released" if released else "updated", before, Verdict.of(order))

    def _seen_by(self, member: Member, order_id: UUID) -> Order | None:
        try:
            return self._visible_order(member, order_id)
        except OrderNotFound:
            return None

    # ---- absences and substitutes (ADR 0020) ---------------------------------------------------------------

    def record_absence(
        self,
        member: Member,
        substitute_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
        approver_id: UUID | None = None,
        waiting: Sequence[UUID] = (),
    ) -> Absence:
        """Record an absence: ``approver_id`` (default: the caller) is away from ``starts_at`` until ``ends_at``
        and ``substitute_id`` decides for them meanwhile. The caller records their own absence if they may approve
        orders, anyone's if they are the main contact or manage users; absent person and substitute are active
        users of the caller's company (another company's are not found) who may approve, and not the same person.

        ``waiting``: orders that wait for the absent approver now (from the read model). When the absence is in
        force at once, each of them is offered to the substitute (an event on the order: its timeline, the
        substitute's mail) in the same transaction; at most :data:`OFFERED_WAITING_MAX`."""
        for_oneself = approver_id is None or approver_id == member.id
        company = self._company_to_read(member.company_id)
        if for_oneself and not may_approve(member, company):
            raise NotAllowed("Only someone who decides orders records an absence with a substitute.")
        if not for_oneself and not may_manage_absences(member):
            raise NotAllowed("Only the main contact or who manages users records another person's absence.")
        approver = member if approver_id is None else self._colleague(member, approver_id)
        substitute = self._colleague(member, substitute_id)
        check_people(approver, substitute, company)
        for n in range(_ABSENCE_ATTEMPTS):
            now = self.clock()
            absences = self._absences_to_change(member.company_id)
            absence = absences.record(uuid4(), approver.id, substitute.id, starts_at, ends_at, member.id, now)
            offered: list[Order] = []
            if absence.in_force(now):
                for order_id in list(dict.fromkeys(waiting))[:OFFERED_WAITING_MAX]:
                    order = self._find(order_id)
                    if (
                        isinstance(order, Order)
                        and order.company_id == member.company_id
                        and approver.id in order.approvers
                    ):
                        if self._offer_to_substitutes(order, now, absences):
                            offered.append(order)
            try:
                self.save(absences, *offered)
            except IntegrityError:
                if n == _ABSENCE_ATTEMPTS - 1:
                    raise
                continue
            return absence
        raise AssertionError("unreachable")

    def withdraw_absence(self, member: Member, absence_id: UUID) -> Absence:
        """End an absence now, or call off one that has not begun: the absent person themselves, the main contact
        or who manages users. The orders offered to the substitute stop being offered at once."""
        absences = self._absences_to_change(member.company_id)
        absence = absences.get(absence_id)
        if not may_see(member, absence):
            raise AbsenceNotFound("Not found.")
        if member.id != absence.approver_id and not may_manage_absences(member):
            raise NotAllowed("Only the absent person, the main contact or who manages users withdraws an absence.")
        withdrawn = absences.withdraw(absence_id, member.id, self.clock())
        self.save(absences)
        return withdrawn

    def absence(self, member: Member, absence_id: UUID) -> Absence:
        """One absence: the absent person's, the substitute's, or (the main contact, who manages users) any of the
        company's; any other is not found."""
        absences = self._absences(member.company_id)
        if absences is None:
            raise AbsenceNotFound("Not found.")
        absence = absences.get(absence_id)
        if not may_see(member, absence):
            raise AbsenceNotFound("Not found.")
        return absence

    def absences(self, member: Member, include_past: bool = False) -> list[Absence]:
        """The absences the caller may see (see :meth:`absence`), by start; ``include_past``: also those that ended
        or were withdrawn."""
        absences = self._absences(member.company_id)
        if absences is None:
            return []
        now = self.clock()
        found = visible(member, absences.absences.values())
        if not include_past:
            found = [a for a in found if a.ended_at > now]
        return sorted(found, key=lambda a: (a.starts_at, a.recorded_at))

    def acting_for(self, member: Member) -> list[UUID]:
        """The approvers whose orders are offered to ``member`` now: they substitute them, and may approve."""
        absences = self._absences(member.company_id)
        if absences is None:
            return []
        approvers = absences.acting_for(member.id, self.clock())
        if not approvers or not may_approve(member, self._company_to_read(member.company_id)):
            return []
        return approvers

    def deciders(self, order: Order, at: datetime) -> dict[UUID, UUID | None]:
        """Who may decide ``order`` at ``at``, each with the absent approver they decide for (None: in their own
        right) — the one rule that routing's offers, visibility and decisions ask (:func:`routing.deciders`); the
        inbox asks it the other way round (:meth:`acting_for`)."""
        absences = self._absences(order.company_id)
        return deciders(order.approvers, order.buyer_id, absences.in_force(at) if absences is not None else ())

    def _substitutes(self, member: Member, order: Order, at: datetime) -> UUID | None:
        """The absent approver of ``order`` whom ``member`` substitutes at ``at``; None: they do not (also when they
        may no longer approve)."""
        if member.id in order.approvers or member.id == order.buyer_id:
            return None
        for_whom = self.deciders(order, at).get(member.id)
        if for_whom is None or not may_approve(member, self._company_to_read(order.company_id)):
            return None
        return for_whom

    def _decides_for(self, member: Member, order: Order, at: datetime) -> UUID | None:
        """On whose behalf ``member`` decides ``order`` now (None: in their own right, as far as the permission
        goes; the order itself refuses what is not theirs to decide: not routed to them, their own, not pending)."""
        on_behalf_of = self._substitutes(member, order, at)
        if on_behalf_of is None:
            self._require(member, APPROVE_ORDERS, unless_main_contact_for=order)
        return on_behalf_of

    def _offer_to_substitutes(self, order: Order, now: datetime, absences: Absences | None = None) -> bool:
        """Offer a pending order to the substitutes of its absent approvers now (events on the order, for its
        timeline and the substitutes' mails). True: something was offered."""
        absences = absences if absences is not None else self._absences(order.company_id)
        if absences is None or order.status is not OrderStatus.PENDING_APPROVAL:
            return False
        in_force = absences.in_force(now)
        if not in_force:
            return False
        company = self._company_to_read(order.company_id)
        offered = False
        for substitute_id, absent in deciders(order.approvers, order.buyer_id, in_force).items():
            if absent is None:
                continue
            substitute = self._cached.get([substitute_id]).get(substitute_id)
            if not isinstance(substitute, Member) or not may_approve(substitute, company):
                continue
            until = max(a.ends_at for a in in_force if (a.approver_id, a.substitute_id) == (absent, substitute_id))
            offered = order.offer(substitute_id, absent, until, now) or offered
        return offered

    def _absences(self, company_id: UUID) -> Absences | None:
        """The company's absences, shared with other requests (read them, never change them)."""
        found = self._cached.get([Absences.create_id(company_id)]).get(Absences.create_id(company_id))
        return found if isinstance(found, Absences) else None

    def _absences_to_change(self, company_id: UUID) -> Absences:
        found = self._find(Absences.create_id(company_id))
        return found if isinstance(found, Absences) else Absences.open(company_id)

    def _colleague(self, member: Member, user_id: UUID) -> Member:
        """A user of the caller's company; another company's is not found, like one that does not exist."""
        found = self._cached.get([user_id]).get(user_id)
        if not isinstance(found, Member) or found.company_id != member.company_id:
            raise OrderNotFound("Not found.")
        return found

    # ---- everyone involved --------------------------------------------------------------------------------

    def comment(self, member: Member, order_id: UUID, text: str, expected_version: int | None = None) -> Order:
        order = self._visible_order(member, order_id)
        if expected_version is not None and order.version != expected_version:
            raise VersionMismatch(f"The order is at version {order.version}, not {expected_version}.")
        order.add_comment(author_id=member.id, text=text, at=datetime.now(UTC))
        self.save(order)
        return order

    def get_order(self, member: Member, order_id: UUID) -> Order:
        return self._visible_order(member, order_id)

    def history(self, member: Member, order_id: UUID) -> list[Any]:
        """The order's events, oldest first: the timeline."""
        return self.timeline(self._visible_order(member, order_id))

    def timeline(self, order: Order) -> list[Any]:
        """The events of an order the caller got from one of the use cases above, up to its version."""
        held = (self._one_read.events or {}).get(order.id)
        if held and held[-1].originator_version == order.version:
            return list(held)
        return list(self.events.get(order.id, lte=order.version))

    def names(self, ids: Iterable[UUID]) -> Names:
        """The people's names as approval knows them now; an erased person's is None (and their id in ``erased``),
        from the members loaded here anyway: no read more."""
        names = Names()
        for i, m in self._cached.get(list(ids)).items():
            if isinstance(m, Member):
                names[i] = None if m.erased else m.name
                if m.erased:
                    names.erased.add(i)
        return names

    # ---- keeping the view of users (called by the users topics' handlers) -------------------------------

    def member_joined(
        self, user_id: UUID, company_id: UUID, email: str, first_name: str, last_name: str, language: str, **state: Any
    ) -> list[Any]:
        if self._find(user_id) is not None:
            return []
        member = Member.join(user_id, company_id, email, first_name, last_name, language)
        member.update(**state, email_index=self.email_index_ids(email)[0])
        return [member, *self._claim_email(email, user_id), *self._roles_changed(member)]

    def member_signed_in(self, user_id: UUID, issuer: str, subject: str) -> list[Any]:
        """Users bound the member to (issuer, subject): from now on only that identifies them."""
        member = self._find(user_id)
        if not isinstance(member, Member) or member.erased:  # an erased person signs in no more: a late binding
            return []  # is not kept
        if self._find(MemberSubject.create_id(issuer, subject)) is not None:
            return []
        member.update(signed_in=True)
        return [member, MemberSubject.bind(issuer, subject, user_id)]

    def member_changed(self, user_id: UUID, **changes: Any) -> list[Any]:
        member = self._find(user_id)
        if not isinstance(member, Member):
            return []
        out: list[Any] = [member]
        if member.erased:  # a change told before the erasure, delivered after it: names and e-mail stay blank
            changes = {k: v for k, v in changes.items() if k not in Member.PERSONAL}
        if "email" in changes and changes["email"].lower() != (member.email or "").lower():
            out.extend(self._release_email(member.email, user_id, member.email_index))
            out.extend(self._claim_email(changes["email"], user_id))
            changes["email_index"] = self.email_index_ids(changes["email"])[0]
        member.update(**changes)
        if "role_ids" in changes:
            out.extend(self._roles_changed(member))
        return out

    def member_erased(self, user_id: UUID, company_id: UUID, erased_at: datetime) -> list[Any]:
        """Users erased the person (ADR 0035): the member forgets their names and e-mail (``Member.Erased``, which
        the projections follow to scrub what they keep of the person), and their address no longer finds them. A
        person not known here yet is remembered as erased (a tombstone: ids and time only), so that a creation,
        rename or address change delivered later brings no names or e-mail back. Erasing twice changes nothing."""
        member = self._find(user_id)
        if self.key_ring is not None:  # this process opens none of their values from now on (ADR 0035)
            self.key_ring.forget(user_id)
        if member is None:
            return [Member.erased_before_known(user_id, company_id, erased_at)]
        if not isinstance(member, Member) or member.erased:
            return []
        out: list[Any] = [member]
        out.extend(self._release_email(member.email, user_id, member.email_index))
        member.erase(erased_at)
        return out

    def company_opened(
        self, company_id: UUID, main_contact_id: UUID, customer_number: str | None = None, currency: str | None = None
    ) -> list[Any]:
        company = self._find(company_id)
        if company is None:
            company = CompanyView.open(company_id, main_contact_id)
        elif not isinstance(company, CompanyView) or company.customer_number is not None or customer_number is None:
            return []
        if customer_number is not None:
            company.set_customer(customer_number, currency)
        return [company]

    # ---- keeping the view of the ERP's prices (called by erp-sync's prices topic handler) ------------------

    def article_price_changed(
        self,
        customer_number: str,
        sku: str,
        state: dict[str, Any],
        company_id: UUID | None = None,
        unit: tuple[str, int] | None = None,
    ) -> list[Any]:
        """The ERP's whole state of one article of one customer (newer ``changed_at`` wins). ``company_id``, when
        erp-sync knows it, also tells a company opened before its customer number was known (older companies).
        ``unit``: as for the ERP's word on orders below — messages of one batch share what they loaded, so a change
        and its revert in one batch are both applied, in order."""
        with self.units.shared(unit) as loaded:
            return self._article_price_changed(customer_number, sku, state, company_id, loaded)

    def _article_price_changed(
        self, customer_number: str, sku: str, state: dict[str, Any], company_id: UUID | None, loaded: dict[UUID, Any]
    ) -> list[Any]:
        out: list[Any] = []
        price_id = ArticlePrice.create_id(customer_number, sku)
        price = loaded.get(price_id) or self._find(price_id)
        if isinstance(price, ArticlePrice):
            if price.change(state):
                out.append(price)
        else:
            price = ArticlePrice.know(customer_number, sku, state)
            out.append(price)
        loaded[price_id] = price
        if company_id is not None:
            company = loaded.get(company_id) or self._find(company_id)
            if isinstance(company, CompanyView) and company.customer_number is None:
                company.set_customer(customer_number, None)
                loaded[company_id] = company
                out.append(company)
        return out

    def approvers_changed(self, company_id: UUID, approver_ids: tuple[UUID, ...], pending: Iterable[UUID]) -> list[Any]:
        """New approvers: pending orders routed to someone no longer approving move to those who remain."""
        company = self._company_or_open(company_id)
        company.set_approvers(tuple(approver_ids))
        return [company, *self._reroute(company, pending)]

    def main_contact_changed(self, company_id: UUID, main_contact_id: UUID, pending: Iterable[UUID]) -> list[Any]:
        company = self._company_or_open(company_id)
        company.set_main_contact(main_contact_id)
        return [company, *self._reroute(company, pending)]

    def ordering_allowed_changed(self, company_id: UUID, allowed: bool) -> list[Any]:
        company = self._company_or_open(company_id)
        if company.ordering_allowed == allowed:
            return []
        company.set_ordering_allowed(allowed)
        return [company]

    # ---- the ERP's word on released orders (called by erp-sync's topic handlers) -------------------------

    # Several messages of one partition may be applied in one transaction (the consumer's batch mode), and
    # several of them may concern one order (transmitted, then confirmed). Each must then see what the ones
    # before it did, so the handlers share the order instances within the transaction: ``unit`` names the
    # partition (the tracking name) and the message's position in it. The shared instances are dropped when
    # the runtime saves the tracking position (done, or failed) and when a position comes again (the last
    # attempt failed before saving and is repeated); an order changed elsewhere meanwhile fails the save on
    # its version, and the runtime retries (kc_runtime.units). Without ``unit``, every call loads the order afresh.

    def erp_transmitted(self, order_id: UUID, unit: tuple[str, int] | None = None) -> list[Any]:
        return self._erp(order_id, lambda o: o.mark_transmitted(datetime.now(UTC)), unit)

    def erp_confirmed(
        self,
        order_id: UUID,
        erp_order_number: str,
        unit: tuple[str, int] | None = None,
        confirmed_at: datetime | None = None,
    ) -> list[Any]:
        """``confirmed_at``: when the ERP confirmed (its clock): its credit figures taken after it include the order."""
        return self._erp(order_id, lambda o: o.confirm_by_erp(erp_order_number, datetime.now(UTC)), unit, confirmed_at)

    def erp_rejected(self, order_id: UUID, reason: str, unit: tuple[str, int] | None = None) -> list[Any]:
        return self._erp(order_id, lambda o: o.reject_by_erp(reason, datetime.now(UTC)), unit)

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        objs = (*objs, *Credits.to_save(objs))  # the credit the orders took or wait for, in the same transaction
        held = self._one_read.events
        if held is None or kwargs:
            return super().save(*objs, **kwargs)
        events = [e for obj in objs if obj is not None
                  for e in (obj.collect_events() if isinstance(obj, Aggregate) else [obj])]  # fmt: skip
        out = super().save(*events)
        known = self._one_read.versions
        for e in events:  # saved: the timeline of the response goes on from what was loaded
            if e.originator_id in held or e.originator_version == 1:
                held.setdefault(e.originator_id, []).append(e)
            if known is not None:  # and what the request reads after it is read as saved
                known[e.originator_id] = e.originator_version
        return out

    def _erp(
        self, order_id: UUID, change: Any, unit: tuple[str, int] | None, confirmed_at: datetime | None = None
    ) -> list[Any]:
        """The ERP's word on a sales order: an order's, or a bundle's (ADR 0034) — then every member's."""
        with self.units.shared(unit) as loaded:
            return self._erp_in(order_id, change, loaded, confirmed_at)

    def _erp_in(self, order_id: UUID, change: Any, loaded: dict[UUID, Any], confirmed_at: datetime | None) -> list[Any]:
        target = loaded.get(order_id)
        if target is None:  # the consumer's batch read them all at once (its spec's preload), or load it now
            hit = preloaded(order_id)
            target = self._find(order_id) if hit is MISSING else hit
        if not isinstance(target, OrderBundle):
            return self._erp_word(target, change, loaded, confirmed_at)
        version = target.version
        change(target)
        loaded[order_id] = target
        if target.version == version:
            return []
        out: list[Any] = [target]
        missing = [i for i in target.order_ids if i not in loaded]
        if missing:  # the members in one read
            loaded.update({i: self.credit.attach(x) for i, x in self.load_many(missing).items() if x is not None})
        for member_id in target.order_ids:
            member = loaded.get(member_id)
            out.extend(x for x in self._erp_word(member, change, loaded, confirmed_at) if all(x is not o for o in out))
        return out

    def _erp_word(self, order: Any, change: Any, loaded: dict[UUID, Any], confirmed_at: datetime | None) -> list[Any]:
        if not isinstance(order, Order):
            return []
        version, status = order.version, order.status
        change(order)
        loaded[order.id] = order
        if order.version == version:
            return []
        out: list[Any] = [order]
        if order.ledger_id is not None and order.status is not status:
            ledger = loaded.get(order.ledger_id) or self._find_growing(order.ledger_id)
            if isinstance(ledger, BudgetLedger):
                before = ledger.version
                now = datetime.now(UTC)
                if order.status is OrderStatus.CONFIRMED:
                    ledger.consume(order.id, now)
                elif order.status is OrderStatus.ERP_REJECTED:
                    ledger.release(order.id, now)
                loaded[ledger.id] = ledger
                if ledger.version != before:
                    out.append(ledger)
        if order.status is not status:
            out.extend(x for x in self.credit.erp_word(order, loaded, confirmed_at) if all(x is not o for o in out))
        return out

    # ---- internals ----------------------------------------------------------------------------------------

    def prefetch(self, who: Any, request: OrderRequest | None = None) -> None:
        """Inside :meth:`one_read`, first: the versions that resolving the caller ``who`` (a verified token) and
        pricing ``request`` will ask for, in one query, as far as this process knows the ids — the caller's sign-in
        and e-mail indexes, their member, its company, the company's approvers and the articles' prices. Whatever
        turns out different (a new member, other approvers) is asked for when it is read."""
        if self._one_read.versions is None:
            return
        issuer, subject, email = (getattr(who, k, None) for k in ("issuer", "subject", "email"))
        ids: list[UUID] = []
        if isinstance(issuer, str) and isinstance(subject, str) and subject:
            ids.append(MemberSubject.create_id(issuer, subject))
        if isinstance(email, str) and email:
            ids.extend(self.email_index_ids(email))
        for index_id in list(ids):
            index = self._cached.cached(index_id)
            member = self._cached.cached(index.user_id) if getattr(index, "user_id", None) else None
            if isinstance(member, Member):
                ids.append(member.id)
                ids.extend(self._pricing_ids(member, request))
                break
        self.latest_versions(ids)

    def _prefetch_for_pricing(self, buyer: Member, request: OrderRequest) -> None:
        """Inside :meth:`one_read`: the versions of what pricing, routing and the response will read, in one query
        (none at all when :meth:`prefetch` named them already)."""
        if self._one_read.versions is not None:
            self.latest_versions([buyer.id, *self._pricing_ids(buyer, request)])

    def _pricing_ids(self, buyer: Member, request: OrderRequest | None) -> list[UUID]:
        """The buyer's company, its approvers and main contact (as last known) and the articles' prices."""
        ids = [
            buyer.company_id,
            Absences.create_id(buyer.company_id),
            CompanyCredit.create_id(buyer.company_id),
            *self._policy_ids(buyer.company_id),
        ]
        company = self._cached.cached(buyer.company_id)
        if isinstance(company, CompanyView):
            ids.extend(company.approver_ids)
            if company.main_contact_id is not None:
                ids.append(company.main_contact_id)
            if company.customer_number and request is not None:
                ids.extend(ArticlePrice.create_id(company.customer_number, ln.sku) for ln in request.lines)
        return ids

    def _route(self, order: Order, evaluation: Evaluation, now: datetime) -> None:
        if evaluation.exceeded:
            step = evaluation.step
            order.hold_for_approval(evaluation.exceeded, evaluation.approvers, now, step.position if step else None)
            self._offer_to_substitutes(order, now)
        else:
            order.release(now)

    def _reroute(self, company: CompanyView, pending: Iterable[UUID]) -> list[Order]:
        changed = []
        for order_id in pending:
            order = self._find(order_id)
            if not isinstance(order, Order) or order.status is not OrderStatus.PENDING_APPROVAL:
                continue
            approvers, position = self._rerouted(order, company)
            if approvers != order.approvers or position is not False:
                now = self.clock()
                order.reassign(approvers, now, position, restart=False)
                self._offer_to_substitutes(order, now)
                changed.append(order)
        return changed

    def _company_for_orders(self, member: Member) -> CompanyView:
        company = self._company_to_read(member.company_id)
        if not company.ordering_allowed:
            raise OrderingBlocked("Your company cannot order through the customer center at the moment.")
        return company

    def _company_or_open(self, company_id: UUID) -> CompanyView:
        company = self._find(company_id)
        if isinstance(company, CompanyView):
            return company
        return CompanyView.open(company_id, None)

    def _company_to_read(self, company_id: UUID) -> CompanyView:
        """The company, shared with other requests (read it, never change it)."""
        return self.company(company_id) or CompanyView.open(company_id, None)

    def _require(self, member: Member, permission: str, unless_main_contact_for: Order | None = None) -> None:
        if member.can(permission):
            return
        if unless_main_contact_for is not None and member.id in unless_main_contact_for.approvers:
            return  # routed to them (e.g. as main contact with no approvers named)
        raise NotAllowed("Your role does not allow this.")

    def _visible_order(self, member: Member, order_id: UUID) -> Order:
        """The order, if the caller may see it; otherwise indistinguishable from one that does not exist."""
        order = self._find(order_id)
        if not isinstance(order, Order) or order.company_id != member.company_id:
            raise OrderNotFound("Not found.")
        involved = member.id == order.buyer_id or member.id in order.approvers or member.id == order.decided_by
        involved = involved or any(a.approver_id == member.id for a in order.tier_approvals)
        if not (involved or member.can(VIEW_COMPANY_ORDERS) or member.is_main_contact):
            if self._substitutes(member, order, self.clock()) is None:
                raise OrderNotFound("Not found.")
        return order

    def _claim_email(self, email: str, user_id: UUID) -> list[Any]:
        """The address belongs to ``user_id`` now, in its blind index. A claim under the address's legacy id moves
        there: released in the same save (from then on the blind index alone decides)."""
        index_id, legacy_id = self.email_index_ids(email)
        index = self._find(index_id)
        if index is None:
            legacy = self._find(legacy_id)
            moved = [legacy] if isinstance(legacy, MemberEmail) and legacy.user_id is not None else []
            for old in moved:
                old.reassign(None)
            return [MemberEmail.claim(index_id, user_id), *moved]
        if isinstance(index, MemberEmail) and index.user_id != user_id:
            index.reassign(user_id)
            return [index]
        return []

    def _release_email(self, email: str | None, user_id: UUID, index_id: UUID | None = None) -> list[Any]:
        """The address no longer finds ``user_id``: wherever its index names them (blind or, not moved yet, legacy).
        ``index_id``: the blind index the member claimed (kept on the member; found without the address, which does
        not open once the person's key is gone)."""
        released = []
        ids = [*(self.email_index_ids(email) if email else ()), *((index_id,) if index_id is not None else ())]
        for index_id in dict.fromkeys(ids):
            index = self._find(index_id)
            if isinstance(index, MemberEmail) and index.user_id == user_id:
                index.reassign(None)
                released.append(index)
        return released

    def _find_growing(self, aggregate_id: UUID) -> Any:
        """A period budget's ledger or a company's credit as stored now (None: never stored), the caller's own copy
        to change: from the process's cache, brought up to date with the events stored since it was cached (or
        read in this request: no query at all) — not replayed from its whole history, which grows with every
        order of the period or the company (approval.domain.growing)."""
        found = self._cached_growing.get([aggregate_id]).get(aggregate_id)
        return copy.deepcopy(found) if found is not None else None

    def _find(self, aggregate_id: UUID) -> Any:
        held = self._one_read.events
        if held is not None:  # keep the events for the response's timeline
            events = list(self.events.get(aggregate_id))
            if not events:
                return None
            found = replay(None, events)
            if isinstance(found, Order):
                held[aggregate_id] = events
            return self.credit.attach(found)
        try:
            return self.credit.attach(self.repository.get(aggregate_id))
        except AggregateNotFoundError:
            return None
