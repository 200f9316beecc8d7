"""Use cases of the notifications service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from kc_runtime.blind_index import DEVELOPMENT_INDEX_SECRET, BlindIndex
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.sealing import KeyRing, Personal
from notifications.domain.digests import Digest, DigestClosed, DigestStatus, digest_day, due_at
from notifications.domain.model import Mail, MailStatus
from notifications.domain.preferences import CATALOGUE, DEFAULT, Delivery, Preferences, preference_kind
from notifications.domain.recipients import Recipient, RecipientEmail, RecipientSubject

RACE_RETRIES = 20
"""Attempts of a write that lost a race on the same aggregate (two mails of one user joining one digest)."""


class CallerError(Exception):
    code = "unknown_user"


class UnknownCaller(CallerError):
    code = "unknown_user"


class IdentityMismatch(CallerError):
    code = "identity_mismatch"


class EmailNotVerified(CallerError):
    code = "email_not_verified"


class CallerInactive(Exception):
    code = "user_inactive"


@dataclass(frozen=True)
class MailRequest:
    """A mail an event causes: to a user of a customer company, or to an address in a language — which may concern
    a user all the same (``about_user_id``: dropped when that user is erased, ADR 0035)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    to_user_id: UUID | None = None
    to_email: str | None = None
    language: str | None = None
    about_user_id: UUID | None = None

    @property
    def recipient_key(self) -> str:
        return str(self.to_user_id) if self.to_user_id else (self.to_email or "")


_RECIPIENT_FIELDS: dict[str, Any] = {"email": "", "first_name": "", "last_name": "", "language": "de", "active": True}


_RECIPIENT = "notifications/recipient"
_MAIL = "notifications/mail"


class Mails(ServiceApplication):
    name = "Mails"
    personal_data: ClassVar[Mapping[type, Personal | tuple[Personal, ...]]] = {
        Recipient.Known: Personal(_RECIPIENT, ("email", "first_name", "last_name", "language")),
        Recipient.Changed: Personal(_RECIPIENT, ("email", "first_name", "last_name", "language")),
        Recipient.SignedIn: Personal(_RECIPIENT, ("subject",)),
        Mail.Queued: (
            # a mail to an address on a user's behalf (their e-mail change's confirmation; a registration's mails
            # to the applicant, who will be the main contact, ADR 0040): the address, their names and language; a
            # mail to a user names them by id only (their address is read when it is sent)
            Personal(
                _MAIL,
                ("to_email", "recipient_key", "language", "data.first_name", "data.last_name"),
                owner="about_user_id",
            ),
            # an approver's comment in the buyer's mail (approved, rejected): sealed with its author's key
            Personal(f"{_MAIL}/author", ("data.comment",), owner="data.approver_id"),
        ),
        Mail.Sent: Personal(_MAIL, ("to", "subject"), owner="person_id"),
        Digest.Sent: Personal("notifications/digest", ("to", "subject"), owner="user_id"),
    }
    """What mails know of people, stored sealed with each person's key (ADR 0035): once users destroyed the key,
    the event store holds nothing readable of them. A kept mail names nobody else under its reader's key: other
    people are named by id only (the buyer's ``buyer_id``, the absent approver a substitute stands in for,
    ``on_behalf_of``: their name is read from the recipients when the mail is sent, nothing once they are erased),
    their words sealed with their own key (an approver's comment, ``approver_id``), and the subject kept of a sent
    mail leaves other people's names out (the dispatcher's ``kept_subject``: a substitute's "Approval requested
    (substitute): …"); a digest's kept subject names nobody. Stays plain — nobody users knows owns it, so nobody whose
    erasure would reach it: the registration mails' applicant of an attempt submitted before registration named the
    person (``ConfirmationRequested.person_id``, ``main_contact.user_id``, ADR 0040: address, names); a comment in
    mails queued before its author's id was kept with it; a failed mail's reason (the dispatcher leaves the address
    out of it). An order's reference, amounts and an approver's modifications (quantities, prices, the delivery or
    billing address, the reference) are the order's data, not a person's — plain as in approval's store (a delivery
    address's name line is the company's shipping data there too, ADR 0035) and as :class:`Personal` could not name
    them anyway (items of a list). Subjects kept of substitutes' mails sent before this release still name the
    absent approver, sealed with the substitute's key."""

    def __init__(self, env: Any = None, index_secret: bytes | None = None, key_ring: KeyRing | None = None) -> None:
        """``index_secret``: the service's blind index secret (``kc_runtime.blind_index.index_secret``; None: the
        development secret, for tests and the local stack). ``key_ring``: the persons' keys (users' internal
        endpoint, ADR 0035) that :attr:`personal_data` is sealed with; None: stored as it is (tests)."""
        super().__init__(env, key_ring=key_ring)
        self._email_index = BlindIndex(index_secret or DEVELOPMENT_INDEX_SECRET, RecipientEmail.INDEX)

    def queue(self, cause: str, requests: list[MailRequest]) -> list[Mail]:
        """The Mail aggregates to save for an event; mails queued before for the same cause are skipped."""
        now = datetime.now(UTC)
        new = []
        for r in requests:
            if not r.recipient_key or self.find(Mail.create_id(cause, r.recipient_key)) is not None:
                continue
            new.append(
                Mail(
                    cause=cause, recipient_key=r.recipient_key, kind=r.kind, data=r.data, queued_at=now,
                    to_user_id=r.to_user_id, to_email=r.to_email, language=r.language, about_user_id=r.about_user_id,
                )
            )  # fmt: skip
        return new

    def recipient(self, user_id: UUID) -> Recipient | None:
        found = self.find(user_id)
        return found if isinstance(found, Recipient) else None

    def recipient_changed(self, user_id: UUID, **fields: Any) -> list[Any]:
        """Keep what mails need to know of a user (email, names, language, active), and which user each address
        belongs to (to find a user who has not signed in yet)."""
        current = self.recipient(user_id)
        if current is not None and current.forgotten:
            return []  # a stale or replayed event of users never brings an erased person's data back
        if current is None:
            if "email" not in fields:
                return []
            index_id = self.email_index_ids(fields["email"])[0]
            return [
                Recipient.known(user_id, **{**_RECIPIENT_FIELDS, **fields}, email_index=index_id),
                *self._address_moved(user_id, None, fields["email"]),
            ]
        merged = {k: fields.get(k, getattr(current, k)) for k in _RECIPIENT_FIELDS}
        if merged == {k: getattr(current, k) for k in _RECIPIENT_FIELDS}:
            return []
        moved = self._address_moved(user_id, current.email, merged["email"], current.email_index)
        current.change(**merged, email_index=self.email_index_ids(merged["email"])[0])
        return [current, *moved]

    def recipient_erased(self, user_id: UUID, at: datetime) -> list[Any]:
        """users erased the person (ADR 0035): their address, names and language are forgotten, their address no
        longer finds them, and no mail goes to them any more (the dispatcher and the digests drop what is still
        waiting). A person not known yet is remembered as erased, so that an older event arriving later cannot make
        them known. Erasing twice changes nothing."""
        current = self.recipient(user_id)
        if current is None:
            current = Recipient.known(user_id, **{**_RECIPIENT_FIELDS, "active": False})
            current.erase(at)
            changed: list[Any] = [current]
        elif current.erased:
            changed = []
        else:
            # their address opens while this process still holds their key; once the key is gone, the index is
            # found by the id the recipient kept (a recipient recorded before it was kept: by the address only)
            released = self._release_email(current.email, user_id, current.email_index)
            current.erase(at)
            changed = [current, *released]
        if self.key_ring is not None:
            self.key_ring.forget(user_id)  # nothing of theirs opens here any more, however long the key was kept
        return changed

    def is_erased(self, user_id: UUID) -> bool:
        found = self.recipient(user_id)
        return found is not None and found.forgotten

    def email_index_ids(self, email: str) -> tuple[UUID, UUID]:
        """The ids of an address's index: its blind index (ADR 0035 decision 4), then its legacy ``uuid5`` id
        (claimed before the blind index; read only while the blind index of the address is not stored)."""
        key = RecipientEmail.key(email)
        return self._email_index.id(key), RecipientEmail.legacy_id(key)

    def email_index(self, email: str) -> RecipientEmail | None:
        """The address's index: its blind index if stored, else the one under its legacy id (None: neither)."""
        index_id, legacy_id = self.email_index_ids(email)
        found = self.find(index_id)
        if found is None:
            found = self.find(legacy_id)
        return found if isinstance(found, RecipientEmail) else None

    def _address_moved(
        self, user_id: UUID, before: str | None, after: str, before_index: UUID | None = None
    ) -> list[RecipientEmail]:
        changed: list[RecipientEmail] = []
        if before and RecipientEmail.key(before) != RecipientEmail.key(after):
            changed.extend(self._release_email(before, user_id, before_index))
        index_id, legacy_id = self.email_index_ids(after)
        new = self._found(RecipientEmail, index_id)
        if new is None:
            # a claim under the legacy id moves to the blind index, released in the same save: from then on the
            # blind index alone decides
            legacy = self._found(RecipientEmail, legacy_id)
            if legacy is not None and legacy.user_id is not None:
                legacy.reassign(None)
                changed.append(legacy)
            changed.append(RecipientEmail.claim(index_id, user_id))
        elif new.user_id != user_id:
            new.reassign(user_id)
            changed.append(new)
        return changed

    def _release_email(self, email: str | None, user_id: UUID, index_id: UUID | None = None) -> list[RecipientEmail]:
        """The address no longer finds ``user_id``: wherever its index names them (blind or, not moved yet, legacy;
        ``index_id``: the blind index the recipient kept, for an address that no longer opens)."""
        ids = dict.fromkeys([*(self.email_index_ids(email) if email else ()), *([index_id] if index_id else [])])
        released = []
        for claim_id in ids:
            index = self._found(RecipientEmail, claim_id)
            if index is not None and index.user_id == user_id:
                index.reassign(None)
                released.append(index)
        return released

    def recipient_signed_in(self, user_id: UUID, issuer: str, subject: str) -> list[Any]:
        """users bound the user to the identity provider's (issuer, subject): from now on only that finds them."""
        changed: list[Any] = []
        current = self.recipient(user_id)
        if current is not None and current.forgotten:
            return []  # an erased person signs in no more: a replayed binding is not kept
        if self._found(RecipientSubject, RecipientSubject.create_id(issuer, subject)) is None:
            changed.append(RecipientSubject.bind(issuer, subject, user_id))
        if current is not None and not current.signed_in:
            current.sign_in(issuer=issuer, subject=subject)
            changed.append(current)
        return changed

    def _found(self, cls: type[Any], aggregate_id: UUID) -> Any:
        found = self.find(aggregate_id)
        return found if isinstance(found, cls) else None

    # ---- who is calling -----------------------------------------------------------------------------------

    def caller(self, who: Any) -> Recipient:
        """The active user a verified token names (``kc_runtime.auth.Caller``), by the same rule as users and
        approval: the user bound to the token's (issuer, subject); one not bound yet by the token's e-mail, only
        when the identity provider verified it."""
        issuer, subject = getattr(who, "issuer", None), getattr(who, "subject", None)
        recipient = None
        if isinstance(issuer, str) and isinstance(subject, str) and subject:
            bound = self._found(RecipientSubject, RecipientSubject.create_id(issuer, subject))
            recipient = self.recipient(bound.user_id) if bound is not None else None
        if recipient is None:
            email = getattr(who, "email", None)
            index = self.email_index(email) if isinstance(email, str) and email else None
            recipient = self.recipient(index.user_id) if index is not None and index.user_id else None
            if recipient is None:
                raise UnknownCaller("This account is not known to the customer center.")
            if recipient.signed_in:
                raise IdentityMismatch("This e-mail address belongs to a user who signs in with another account.")
            if getattr(who, "email_verified", False) is not True:
                raise EmailNotVerified("The identity provider has not verified this e-mail address.")
        if not recipient.active:
            raise CallerInactive("This account has been deactivated.")
        return recipient

    # ---- preferences (ADR 0027) ---------------------------------------------------------------------------

    def preferences(self, user_id: UUID) -> Preferences | None:
        return self._found(Preferences, Preferences.create_id(user_id))

    def choose(self, user_id: UUID, choices: Mapping[str, str], by: UUID) -> Preferences:
        """Set ``user_id``'s delivery of the kinds named (validated against the catalogue; the others stay)."""
        for _ in range(RACE_RETRIES):
            prefs = self.preferences(user_id) or Preferences.start(user_id)
            if not prefs.choose(choices, by=by, at=datetime.now(UTC)):
                return prefs  # nothing changed: no event (a new one, with only defaults, is not stored either)
            try:
                self.save(prefs)
                return prefs
            except IntegrityError:
                continue  # chosen at the same moment by another request of theirs: apply on top of it
        raise IntegrityError("preferences changed concurrently")

    def delivery_of(self, mail: Mail) -> Delivery:
        """How ``mail`` is to go out: what its recipient chose for its kind. Mails to an address, and kinds outside
        the catalogue, go out at once."""
        kind = preference_kind(mail.kind, mail.data)
        if mail.to_user_id is None or kind not in CATALOGUE:
            return DEFAULT
        prefs = self.preferences(mail.to_user_id)
        return prefs.delivery(kind) if prefs is not None else DEFAULT

    def suppress(self, mail_id: UUID) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.suppress(preference_kind(mail.kind, mail.data), datetime.now(UTC))
            self.save(mail)

    def defer(self, mail_id: UUID, hour: int, zone: tzinfo, now: datetime | None = None) -> Digest | None:
        """Put the mail into its recipient's next digest (opened if need be), both in one transaction; a digest
        already being sent takes no more: then the next day's."""
        for _ in range(RACE_RETRIES):
            mail: Mail = self.repository.get(mail_id)
            if mail.status is not MailStatus.QUEUED or mail.to_user_id is None:
                return None
            at = now or datetime.now(UTC)
            day = digest_day(at, hour, zone)
            for _ in range(RACE_RETRIES):
                digest = self._found(Digest, Digest.create_id(mail.to_user_id, day))
                if digest is None:
                    digest = Digest.open(mail.to_user_id, day, due_at(day, hour, zone))
                try:
                    digest.add(mail.id)
                    break
                except DigestClosed:
                    day += timedelta(days=1)
            mail.defer(digest.id, digest.day, at)
            try:
                self.save(mail, digest)
                return digest
            except IntegrityError:
                continue  # another mail of theirs joined the digest at the same moment: again, on top of it
        raise IntegrityError("digest changed concurrently")

    # ---- digests ------------------------------------------------------------------------------------------

    def digest(self, digest_id: UUID) -> Digest | None:
        return self._found(Digest, digest_id)

    def claim_digest(self, digest_id: UUID) -> Digest | None:
        """The digest, claimed for sending by this caller; None when it is sent, empty, or another sender claimed
        it at the same moment (the store's version check decides)."""
        digest = self.digest(digest_id)
        if digest is None or digest.status in (DigestStatus.SENT, DigestStatus.FAILED) or not digest.mail_ids:
            return None
        digest.claim(datetime.now(UTC))
        try:
            self.save(digest)
        except IntegrityError:
            return None
        return digest

    def mark_digest_sent(self, digest_id: UUID, to: str, subject: str) -> None:
        digest = self.digest(digest_id)
        if digest is not None and digest.status is not DigestStatus.SENT:
            digest.mark_sent(to, subject, datetime.now(UTC))
            self.save(digest)

    def mark_sent(self, mail_id: UUID, to: str, subject: str) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.mark_sent(to, subject, datetime.now(UTC))
            self.save(mail)

    def mark_failed(self, mail_id: UUID, reason: str) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.mark_failed(reason, datetime.now(UTC))
            self.save(mail)

    def mark_digest_failed(self, digest_id: UUID, reason: str) -> None:
        digest = self.digest(digest_id)
        if digest is not None:
            digest.mark_failed(reason, datetime.now(UTC))
            self.save(digest)
