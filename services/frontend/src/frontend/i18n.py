"""German and English texts of the pages, and money and dates per locale (Babel).

One table: each key has its German and English text. API error codes have their own sentences here, so a
refusal reads the same whichever service gave it; an unknown code falls back to the API's own sentence.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

LANGUAGES = ("de", "en")
DEFAULT = "de"
LOCALES = {"de": "de_DE", "en": "en_GB"}
TIMEZONE = ZoneInfo("Europe/Berlin")

TEXTS: dict[str, tuple[str, str]] = {
    # frame
    "app.title": ("Kundencenter", "Customer center"),
    "app.account": ("Mein Konto", "My account"),
    "nav.skip": ("Zum Inhalt springen", "Skip to content"),
    "nav.main": ("Hauptnavigation", "Main navigation"),
    "nav.home": ("Übersicht", "Overview"),
    "nav.orders": ("Meine Bestellungen", "My orders"),
    "nav.new_order": ("Neue Bestellung", "New order"),
    "nav.approvals": ("Bestellungen freigeben", "Approve orders"),
    "nav.users": ("Benutzerverwaltung", "User management"),
    "nav.audit": ("Protokoll", "Audit log"),
    "nav.sign_in": ("Anmelden", "Sign in"),
    "nav.sign_out": ("Abmelden", "Sign out"),
    "nav.register": ("Registrieren", "Register"),
    "nav.language": ("Sprache", "Language"),
    "nav.signed_in_as": ("Angemeldet als", "Signed in as"),
    "common.save": ("Speichern", "Save"),
    "common.back": ("Zurück", "Back"),
    "common.yes": ("ja", "yes"),
    "common.no": ("nein", "no"),
    "common.none": ("keine", "none"),
    "common.unlimited": ("unbegrenzt", "unlimited"),
    "common.filter": ("Filtern", "Filter"),
    "common.all": ("alle", "all"),
    "common.required": ("Pflichtfeld", "required"),
    "common.error_title": ("Das hat nicht geklappt", "That did not work"),
    "common.details": ("Details", "Details"),
    "common.total": ("Summe", "Total"),
    "common.comment": ("Kommentar", "Comment"),
    "common.page_of": ("{shown} von {total}", "{shown} of {total}"),
    "common.previous": ("Vorherige Seite", "Previous page"),
    "common.next": ("Nächste Seite", "Next page"),
    # home
    "home.title": ("Kundencenter", "Customer center"),
    "home.welcome": ("Willkommen, {name}", "Welcome, {name}"),
    "home.company": ("Firma {name} (Kundennummer {number})", "Company {name} (customer number {number})"),
    "home.anonymous": (
        "Melden Sie sich an, um Bestellungen, Freigaben und Benutzer Ihrer Firma zu verwalten. Noch kein Zugang? "
        "Registrieren Sie Ihre Firma mit Kundennummer und einer Rechnungsnummer.",
        "Sign in to manage your company's orders, approvals and users. No access yet? Register your company "
        "with its customer number and one of its invoice numbers.",
    ),
    "home.pending_approvals": (
        "{count} Bestellung(en) warten auf Ihre Freigabe",
        "{count} order(s) await your approval",
    ),
    # sign-in
    "signin.title": ("Anmelden", "Sign in"),
    "signin.dev_note": (
        "Lokale Entwicklungsumgebung: Anmeldung über den Entwicklungs-Token-Aussteller, ohne Passwort.",
        "Local development stack: sign-in through the development token issuer, without a password.",
    ),
    "signin.email": ("E-Mail-Adresse", "E-mail address"),
    "signin.submit": ("Anmelden", "Sign in"),
    "signin.oidc": ("Weiter zur Anmeldung", "Continue to sign-in"),
    "signin.signed_out": ("Sie wurden abgemeldet.", "You have been signed out."),
    "signin.ended": (
        "Ihre Sitzung wurde beendet. Bitte melden Sie sich erneut an.",
        "Your session has ended. Please sign in again.",
    ),
    "signin.failed": ("Die Anmeldung ist fehlgeschlagen.", "Signing in failed."),
    # registration
    "reg.title": ("Firma registrieren", "Register your company"),
    "reg.intro": (
        "Geben Sie Ihre Kundennummer, eine Ihrer Rechnungsnummern und Ihre E-Mail-Adresse an. Wir prüfen die "
        "Angaben mit unserem Warenwirtschaftssystem; danach erhalten Sie eine E-Mail zur Bestätigung. Sie werden "
        "Hauptkontakt Ihrer Firma.",
        "Enter your customer number, one of your invoice numbers and your e-mail address. We check them with "
        "our ERP system; then you receive an e-mail to confirm. You become your company's main contact.",
    ),
    "reg.customer_number": ("Kundennummer", "Customer number"),
    "reg.invoice_number": ("Rechnungsnummer", "Invoice number"),
    "reg.invoice_hint": ("Steht oben rechts auf jeder Rechnung.", "Printed at the top right of every invoice."),
    "reg.email": ("E-Mail-Adresse", "E-mail address"),
    "reg.first_name": ("Vorname", "First name"),
    "reg.last_name": ("Nachname", "Last name"),
    "reg.language": ("Sprache der E-Mails", "Language of the e-mails"),
    "reg.submit": ("Registrieren", "Register"),
    "reg.status_title": ("Ihre Registrierung", "Your registration"),
    "reg.status.verifying": (
        "Wir prüfen Ihre Angaben mit dem Warenwirtschaftssystem. Das dauert meist nur wenige Sekunden …",
        "We are checking your details with the ERP system. This usually takes a few seconds …",
    ),
    "reg.status.awaiting_confirmation": (
        "Ihre Angaben sind bestätigt. Wir haben Ihnen eine E-Mail geschickt: Bitte bestätigen Sie Ihre "
        "Registrierung über den Link darin.",
        "Your details are confirmed. We have sent you an e-mail: please confirm your registration with its link.",
    ),
    "reg.status.completed": (
        "Ihre Registrierung ist abgeschlossen. Sie können sich jetzt anmelden.",
        "Your registration is complete. You can sign in now.",
    ),
    "reg.status.rejected": ("Die Registrierung wurde abgelehnt.", "The registration was refused."),
    "reg.status.expired": (
        "Die Bestätigungsfrist ist abgelaufen. Bitte registrieren Sie sich erneut.",
        "The confirmation period has expired. Please register again.",
    ),
    "reg.status.unknown": ("Status: {status}", "Status: {status}"),
    "reg.waiting": ("Bitte warten", "Please wait"),
    "reg.again": ("Erneut registrieren", "Register again"),
    "reg.confirm_title": ("Registrierung bestätigen", "Confirm your registration"),
    "reg.confirm_intro": (
        "Bestätigen Sie mit einem Klick, dass diese E-Mail-Adresse Ihnen gehört. Danach wird Ihr Zugang angelegt.",
        "Confirm with one click that this e-mail address is yours. Your access is then created.",
    ),
    "reg.confirm_submit": ("Registrierung bestätigen", "Confirm registration"),
    "reg.confirm_bad_link": (
        "Dieser Bestätigungslink ist unvollständig. Bitte öffnen Sie den Link aus der E-Mail erneut.",
        "This confirmation link is incomplete. Please open the link from the e-mail again.",
    ),
    "email.confirm_title": ("Neue E-Mail-Adresse bestätigen", "Confirm the new e-mail address"),
    "email.confirm_submit": ("E-Mail-Adresse bestätigen", "Confirm e-mail address"),
    "email.confirmed": ("Die neue E-Mail-Adresse gilt ab sofort.", "The new e-mail address is in effect now."),
    # orders
    "orders.title": ("Meine Bestellungen", "My orders"),
    "orders.company_title": ("Bestellungen der Firma", "The company's orders"),
    "orders.empty": ("Keine Bestellungen.", "No orders."),
    "orders.col.submitted": ("Eingereicht", "Submitted"),
    "orders.col.reference": ("Referenz", "Reference"),
    "orders.col.status": ("Status", "Status"),
    "orders.col.total": ("Summe", "Total"),
    "orders.col.quantity": ("Menge", "Quantity"),
    "orders.col.lines": ("Positionen", "Lines"),
    "orders.col.buyer": ("Besteller", "Buyer"),
    "orders.col.approvers": ("Freigeber", "Approvers"),
    "orders.open": ("Bestellung {ref} öffnen", "Open order {ref}"),
    "orders.filter_status": ("Status", "Status"),
    "order.title": ("Bestellung {ref}", "Order {ref}"),
    "order.lines": ("Positionen", "Lines"),
    "order.sku": ("Artikel", "Article"),
    "order.description": ("Bezeichnung", "Description"),
    "order.quantity": ("Menge", "Quantity"),
    "order.unit_price": ("Einzelpreis", "Unit price"),
    "order.line_total": ("Gesamt", "Line total"),
    "order.new_quantity": ("Neue Menge für {sku}", "New quantity for {sku}"),
    "order.buyer": ("Besteller", "Buyer"),
    "order.submitted": ("Eingereicht am", "Submitted on"),
    "order.reference": ("Referenz", "Reference"),
    "order.buyer_comment": ("Kommentar des Bestellers", "Buyer's comment"),
    "order.delivery": ("Lieferadresse", "Delivery address"),
    "order.payment": ("Zahlungsart", "Payment method"),
    "order.shipping": ("Versandart", "Shipping method"),
    "order.erp_number": ("Auftragsnummer im ERP", "ERP order number"),
    "order.bundle": ("Sammelbestellung", "Collective order"),
    "order.bundle_text": (
        "Mit weiteren Bestellungen Ihres Unternehmens gebündelt an das ERP gegangen; jede Position bleibt dieser "
        "Bestellung zugeordnet.",
        "Went to the ERP bundled with other orders of your company; each line stays assigned to this order.",
    ),
    "order.budget": ("Budgetprüfung", "Budget check"),
    "order.within_budget": ("Die Bestellung liegt im Budget.", "The order is within budget."),
    "order.exceeds": ("Die Bestellung überschreitet das Budget:", "The order exceeds the budget:"),
    "order.limit.max_quantity": (
        "Menge {actual} statt höchstens {allowed} Stück",
        "quantity {actual} where at most {allowed} pieces are allowed",
    ),
    "order.limit.max_value": (
        "Bestellwert {actual} statt höchstens {allowed}",
        "order value {actual} where at most {allowed} is allowed",
    ),
    "order.approvers": ("Freigeber", "Approvers"),
    "order.decided_by": ("Entschieden von", "Decided by"),
    "order.on_behalf_of": ("in Vertretung für {name}", "on behalf of {name}"),
    "order.deciding_for": (
        "Sie entscheiden in Vertretung für {name} (abwesend).",
        "You decide on behalf of {name} (absent).",
    ),
    "order.offered": ("{substitute} vertritt {name} bis {until}", "{substitute} substitutes for {name} until {until}"),
    "order.timeline": ("Verlauf", "Timeline"),
    "order.conversation": ("Unterhaltung", "Conversation"),
    "order.no_messages": ("Noch keine Nachrichten.", "No messages yet."),
    "order.add_comment": ("Nachricht schreiben", "Write a message"),
    "order.send_comment": ("Nachricht senden", "Send message"),
    "order.decide": ("Entscheidung", "Decision"),
    "order.approve": ("Freigeben", "Approve"),
    "order.approve_changed": ("Mit Änderungen freigeben", "Approve with changes"),
    "order.approve_changed_hint": (
        "Ändern Sie Mengen (0 entfernt eine Position); Preise kommen immer aus dem ERP.",
        "Change quantities (0 removes a line); prices always come from the ERP.",
    ),
    "order.reject": ("Ablehnen", "Reject"),
    "order.reject_comment": ("Begründung der Ablehnung", "Reason for the rejection"),
    "order.resubmit": ("Erneut einreichen", "Submit again"),
    "order.resubmit_hint": (
        "Passen Sie die Mengen an und erklären Sie die Änderung im Kommentar.",
        "Adjust the quantities and explain the change in the comment.",
    ),
    "order.cancel": ("Bestellung stornieren", "Cancel order"),
    "order.approved_msg": ("Die Bestellung ist freigegeben.", "The order is approved."),
    "order.rejected_msg": ("Die Bestellung ist abgelehnt.", "The order is rejected."),
    "order.resubmitted_msg": ("Die Bestellung ist erneut eingereicht.", "The order has been submitted again."),
    "order.cancelled_msg": ("Die Bestellung ist storniert.", "The order is cancelled."),
    "order.comment_msg": ("Ihre Nachricht ist gesendet.", "Your message has been sent."),
    "order.submitted_msg": ("Die Bestellung ist eingereicht.", "The order has been submitted."),
    # the page a decision link of the approval mail opens (ADR 0031)
    "decision.title": ("Bestellung entscheiden", "Decide an order"),
    "decision.ask_approve": (
        "{name}, möchten Sie diese Bestellung über {amount} freigeben?",
        "{name}, do you want to approve this order of {amount}?",
    ),
    "decision.ask_reject": (
        "{name}, möchten Sie diese Bestellung über {amount} ablehnen?",
        "{name}, do you want to reject this order of {amount}?",
    ),
    "decision.comment_approve": ("Kommentar (freiwillig)", "Comment (optional)"),
    "decision.comment_reject": ("Begründung für den Besteller", "Reason for the buyer"),
    "decision.confirm_approve": ("Freigabe bestätigen", "Confirm the approval"),
    "decision.confirm_reject": ("Ablehnung bestätigen", "Confirm the rejection"),
    "decision.done": ("Ihre Entscheidung ist gespeichert.", "Your decision is recorded."),
    "decision.status_now": ("Status der Bestellung", "The order's status"),
    "decision.open_order": ("Bestellung im Kundencenter öffnen", "Open the order in the customer center"),
    "decision.bad_link": (
        "Dieser Link ist unvollständig. Öffnen Sie die Bestellung im Kundencenter.",
        "This link is incomplete. Open the order in the customer center.",
    ),
    "error.invalid_decision_link": (
        "Dieser Link ist kein gültiger Entscheidungslink. Öffnen Sie die Bestellung im Kundencenter.",
        "This is not a valid decision link. Open the order in the customer center.",
    ),
    "error.decision_link_expired": (
        "Dieser Link ist abgelaufen. Öffnen Sie die Bestellung im Kundencenter, um zu entscheiden.",
        "This link has expired. Open the order in the customer center to decide it.",
    ),
    "error.decision_link_outdated": (
        "Die Bestellung wurde seit dieser E-Mail geändert oder schon entschieden; der Link gilt nicht mehr.",
        "The order was changed or already decided since this e-mail; the link no longer applies.",
    ),
    "status.pending_approval": ("wartet auf Freigabe", "awaiting approval"),
    "status.transmitted": ("an das ERP gesendet", "sent to the ERP"),
    "status.released": ("freigegeben", "released"),
    "status.rejected": ("abgelehnt", "rejected"),
    "status.cancelled": ("storniert", "cancelled"),
    "status.confirmed": ("vom ERP bestätigt", "confirmed by the ERP"),
    "status.erp_rejected": ("vom ERP abgelehnt", "refused by the ERP"),
    "status.expired": ("abgelaufen", "expired"),
    "event.Submitted": ("eingereicht", "submitted"),
    "event.ApprovalRequested": ("Freigabe angefordert", "approval requested"),
    "event.Approved": ("freigegeben", "approved"),
    "event.Modified": ("geändert", "changed"),
    "event.Rejected": ("abgelehnt", "rejected"),
    "event.Resubmitted": ("erneut eingereicht", "submitted again"),
    "event.Cancelled": ("storniert", "cancelled"),
    "event.Released": ("an das ERP übergeben", "sent to the ERP"),
    "event.Commented": ("Nachricht", "message"),
    "event.Reassigned": ("neu zugewiesen", "reassigned"),
    "event.Reminded": ("Erinnerung an die Freigebenden", "approvers reminded"),
    "event.EscalatedOnDeadline": ("eskaliert (Frist überschritten)", "escalated (deadline passed)"),
    "event.Expired": ("abgelaufen (Frist überschritten)", "expired (deadline passed)"),
    "event.ConfirmedByErp": ("vom ERP bestätigt", "confirmed by the ERP"),
    "event.RejectedByErp": ("vom ERP abgelehnt", "refused by the ERP"),
    "event.OfferedToSubstitute": ("der Vertretung angeboten", "offered to the substitute"),
    "event.Escalated": ("auf der Stufe freigegeben, an die nächste Stufe", "approved at the tier, on to the next tier"),
    "order.tier": ("Freigabestufe", "Approval tier"),
    "order.tier_up_to": ("Stufe {n} (gibt frei bis {amount})", "Tier {n} (releases up to {amount})"),
    "order.tier_top": ("Hauptkontakt (ohne Grenze)", "Main contact (without limit)"),
    "order.approved_at_tier": ("Stufe {n}: freigegeben von {name}", "Tier {n}: approved by {name}"),
    # why an order went where it went (GET /api/orders/{id}/explanation, ADR 0028)
    "why.title": ("Warum?", "Why?"),
    "why.intro": (
        "So wurde die Bestellung bei jedem Schritt beurteilt – mit Budget, Preisen, Freigebern und Vertretungen, wie "
        "sie damals galten.",
        "How the order was judged at each step — with the budget, prices, approvers and substitutes as they were then.",
    ),
    "why.budget": (
        "Budget je Bestellung: höchstens {quantity} Stück, höchstens {value}",
        "Budget per order: at most {quantity} pieces, at most {value}",
    ),
    "why.budget_members_view": ("(wie damals im Benutzerkonto hinterlegt)", "(as the user's account had it then)"),
    "why.period_budget": (
        "Zeitraumbudget {period}: {budget}; reserviert {reserved}, verbraucht {consumed}, frei {available}",
        "Period budget {period}: {budget}; reserved {reserved}, consumed {consumed}, available {available}",
    ),
    "why.prices": ("Preise aus dem ERP (Kundenpreise):", "Prices from the ERP (customer prices):"),
    "why.price_line": (
        "{sku}: {quantity} × {unit_price} = {line_total}",
        "{sku}: {quantity} × {unit_price} = {line_total}",
    ),
    "why.price_break": ("Staffelpreis ab {n} Stück, Listenpreis {list}", "quantity break from {n}, list price {list}"),
    "why.price_not_recorded": (
        "Preisherkunft nicht erfasst (ältere Bestellung)",
        "Where the prices came from was not recorded (older order)",
    ),
    "why.total": ("Summe {total}", "Total {total}"),
    "why.exceeded": ("Überschritten:", "Exceeded:"),
    "why.limit.period": (
        "Zeitraumbudget: {actual} bei {allowed} frei",
        "Period budget: {actual} with {allowed} available",
    ),
    "why.outcome.released": (
        "Ergebnis: im Budget – direkt an das ERP.",
        "Result: within budget — straight to the ERP.",
    ),
    "why.outcome.held_for_approval": (
        "Ergebnis: über dem Budget – zur Freigabe.",
        "Result: over budget — held for approval.",
    ),
    "why.outcome.held_for_credit": (
        "Ergebnis: im Budget, wartet aber auf den Kreditrahmen im ERP.",
        "Result: within budget, but waiting for the company's credit at the ERP.",
    ),
    "why.rule.approvers_named": (
        "An {names}: die damals benannten Freigeber der Firma.",
        "To {names}: the company's approvers named then.",
    ),
    "why.rule.main_contact_fallback": (
        "An {names}: damals war kein Freigeber benannt, daher der Hauptkontakt.",
        "To {names}: no approver was named then, so the main contact.",
    ),
    "why.rule.nobody_yet": (
        "Niemand konnte entscheiden: kein Freigeber benannt, und der Hauptkontakt ist der Besteller.",
        "Nobody could decide: no approver named, and the main contact is the buyer.",
    ),
    "why.rule.tier": (
        "An {names}: Freigabestufe {n} der Freigaberichtlinie.",
        "To {names}: tier {n} of the approval policy.",
    ),
    "why.rule.as_recorded": ("An {names}.", "To {names}."),
    "why.buyer_left_out": (
        "Der Besteller ist selbst Freigeber, entscheidet aber nie über die eigene Bestellung.",
        "The buyer is an approver too, but never decides their own order.",
    ),
    "why.substitute": ("{substitute} vertrat {name} bis {until}.", "{substitute} stood in for {name} until {until}."),
    "why.could_decide": ("Hätten entscheiden können:", "Could have decided:"),
    "why.could.approver": ("{name}", "{name}"),
    "why.could.main_contact": ("{name} (Hauptkontakt)", "{name} (main contact)"),
    "why.could.substitute": (
        "{name} in Vertretung für {absent} ({since} – {until})",
        "{name} on behalf of {absent} ({since} – {until})",
    ),
    "why.still": ("jetzt", "now"),
    "why.decision.approved": ("{name} hat {capacity} freigegeben.", "{name} approved {capacity}."),
    "why.decision.rejected": ("{name} hat {capacity} abgelehnt.", "{name} rejected {capacity}."),
    "why.decision.escalated": (
        "{name} hat {capacity} auf dieser Stufe freigegeben; die Bestellung geht an die nächste Stufe.",
        "{name} approved {capacity} at this tier; the order goes on to the next tier.",
    ),
    "why.capacity.approver": ("als Freigeber", "as an approver"),
    "why.capacity.main_contact": ("als Hauptkontakt", "as the main contact"),
    "why.capacity.substitute": ("in Vertretung für {name}", "on behalf of {name}"),
    "why.re_evaluated": ("Neu beurteilt auf Wunsch von {name}.", "Judged again at the request of {name}."),
    "why.budget_before": ("Vorher:", "Before:"),
    "why.released_by": ("Freigegeben durch {name}.", "Approved by {name}."),
    "why.released_within": ("Ohne Freigabe: im Budget.", "Without approval: within budget."),
    "new_order.title": ("Neue Bestellung", "New order"),
    "new_order.intro": (
        "Eine einfache Bestellmaske (im Shop ist das der Warenkorb): Artikel und Mengen; die Preise kommen aus dem ERP.",
        "A plain order form (in the shop this is the checkout): articles and quantities; prices come from the ERP.",
    ),
    "new_order.line": ("Position {n}", "Line {n}"),
    "new_order.sku": ("Artikelnummer", "Article number"),
    "new_order.address": ("Lieferadresse", "Delivery address"),
    "new_order.name": ("Name", "Name"),
    "new_order.street": ("Straße", "Street"),
    "new_order.postal_code": ("Postleitzahl", "Postal code"),
    "new_order.city": ("Ort", "City"),
    "new_order.country": ("Land (ISO-Code)", "Country (ISO code)"),
    "new_order.reference": ("Ihre Referenz", "Your reference"),
    "new_order.comment": ("Kommentar", "Comment"),
    "new_order.submit": ("Bestellen", "Place order"),
    # approvals
    "inbox.title": ("Bestellungen freigeben", "Approve orders"),
    "inbox.empty": ("Keine Bestellung wartet auf Ihre Freigabe.", "No order awaits your approval."),
    "inbox.substitute_for": ("Vertretung für {name}", "substituting for {name}"),
    "inbox.select": ("Auswählen", "Select"),
    "inbox.select_order": ("Bestellung {ref} auswählen", "Select order {ref}"),
    "inbox.selected": ("Ausgewählte Bestellungen", "Selected orders"),
    "inbox.comment": (
        "Kommentar (für alle ausgewählten; beim Ablehnen Pflicht)",
        "Comment (for all selected; required to reject)",
    ),
    "inbox.approve_selected": ("Ausgewählte freigeben", "Approve selected"),
    "inbox.reject_selected": ("Ausgewählte ablehnen", "Reject selected"),
    "inbox.none_selected": ("Wählen Sie mindestens eine Bestellung aus.", "Select at least one order."),
    "inbox.too_many": ("Höchstens {n} Bestellungen auf einmal.", "At most {n} orders at once."),
    "inbox.results": ("Ergebnis", "Result"),
    "inbox.bundle_selected": ("Ausgewählte bündeln", "Bundle selected"),
    "inbox.bundle_hint": (
        "Bündeln gibt die Bestellungen frei und schickt sie als eine Sammelbestellung an das ERP: alle an dieselbe "
        "Liefer- und Rechnungsadresse, mit derselben Zahlungs- und Versandart.",
        "Bundling approves the orders and sends them to the ERP as one collective order: all to the same delivery and "
        "billing address, with the same payment and shipping method.",
    ),
    "inbox.bundle_needs_two": ("Wählen Sie mindestens zwei Bestellungen zum Bündeln aus.",
                               "Select at least two orders to bundle."),
    "inbox.bundle_stopped_by": ("(Bestellung {ref})", "(order {ref})"),
    "inbox.bundled": ("Gebündelt", "Bundled"),
    "inbox.bundled_summary": (
        "{n} Bestellungen über {total} sind freigegeben und gehen als eine Sammelbestellung an das ERP.",
        "{n} orders of {total} are approved and go to the ERP as one collective order.",
    ),
    "inbox.summary": ("{decided} entschieden, {failed} nicht entschieden.", "{decided} decided, {failed} not decided."),
    "inbox.outcome.approved": ("freigegeben", "approved"),
    "inbox.outcome.rejected": ("abgelehnt", "rejected"),
    "inbox.outcome.failed": ("nicht entschieden", "not decided"),
    # the approval policy (ADR 0025)
    "nav.approval_policy": ("Freigabestufen", "Approval tiers"),
    "policy.title": ("Freigaberichtlinie", "Approval policy"),
    "policy.intro": (
        "Eine Bestellung über Budget wartet auf einer Stufe: Eine Freigabe innerhalb der Grenze der Stufe gibt sie "
        "frei, darüber steigt sie zur nächsten Stufe auf – bis zum Hauptkontakt, der ohne Grenze entscheidet. Niemand "
        "gibt die eigene Bestellung frei, und niemand gibt eine Bestellung auf zwei Stufen frei.",
        "An order over budget waits at one tier: an approval within the tier's limit releases it, above it the order "
        "climbs to the next tier – up to the main contact, who decides without limit. Nobody approves their own order, "
        "and nobody approves one order at two tiers.",
    ),
    "policy.default": (
        "Keine Stufen festgelegt: Es entscheiden die benannten Freigeber, sonst der Hauptkontakt.",
        "No tiers defined: the named approvers decide, else the main contact.",
    ),
    "policy.col.tier": ("Stufe", "Tier"),
    "policy.col.limit": ("Freigabegrenze", "Approver limit"),
    "policy.col.approvers": ("Freigeber", "Approvers"),
    "policy.tier": ("Stufe {n}", "Tier {n}"),
    "policy.up_to": ("bis {amount}", "up to {amount}"),
    "policy.role": ("alle mit der Rolle {role}", "everyone with the role {role}"),
    "policy.top": ("darüber", "above"),
    "policy.without_limit": ("ohne Grenze", "without limit"),
    "policy.main_contact": ("der Hauptkontakt", "the main contact"),
    "policy.escalation": ("Weg einer Bestellung", "How an order goes"),
    "policy.escalation.climb": (
        "Jede Bestellung beginnt auf Stufe 1 und steigt auf, bis eine Stufe sie mit ihrer Grenze freigibt.",
        "Every order starts at tier 1 and climbs until a tier releases it within its limit.",
    ),
    "policy.escalation.direct": (
        "Jede Bestellung geht direkt an die niedrigste Stufe, deren Grenze sie abdeckt.",
        "Every order goes straight to the lowest tier whose limit covers it.",
    ),
    "policy.defined": (
        "Version {version}, festgelegt von {name} am {at}",
        "Version {version}, defined by {name} on {at}",
    ),
    "policy.define": ("Stufen festlegen", "Define the tiers"),
    "policy.define_hint": (
        "Grenzen aufsteigend in der Währung der Firma; leere Stufen werden ignoriert. Wartende Bestellungen behalten "
        "ihre Stufen, bis eine Neubewertung verlangt wird.",
        "Limits ascending, in the company's currency; empty tiers are left out. Waiting orders keep their tiers until "
        "a re-evaluation is asked for.",
    ),
    "policy.limit": ("Freigabegrenze (Bestellwert bis)", "Approver limit (order value up to)"),
    "policy.approvers": ("Freigeber dieser Stufe", "This tier's approvers"),
    "policy.role_field": ("oder alle mit der Rolle (Rollen-ID)", "or everyone with the role (role id)"),
    "policy.not_an_amount": (
        "Bitte einen Betrag über 0 eingeben, z. B. 1.000,00.",
        "Please enter an amount over 0, e.g. 1,000.00.",
    ),
    "policy.save": ("Stufen speichern", "Save the tiers"),
    "policy.reset": ("Stufen aufheben (Freigeberliste gilt)", "Remove the tiers (the approver list decides)"),
    "policy.saved": ("Die Freigaberichtlinie wurde gespeichert.", "The approval policy was saved."),
    "policy.error.not_an_approver": (
        "Eine der gewählten Personen darf keine Bestellungen freigeben.",
        "One of the people chosen may not approve orders.",
    ),
    "error.limits_not_ascending": (
        "Die Grenze jeder Stufe muss höher sein als die der Stufe darunter.",
        "Each tier's limit must be higher than the one below.",
    ),
    "error.no_tier_approvers": (
        "Jede Stufe braucht Freigeber (Personen oder eine Rolle).",
        "Each tier needs approvers (people or a role).",
    ),
    "error.invalid_policy": ("Die Freigaberichtlinie ist ungültig.", "The approval policy is not valid."),
    "error.currency_mismatch": (
        "Die Grenzen müssen in der Währung der Firma sein.",
        "The limits must be in the company's currency.",
    ),
    "error.already_approved": (
        "Sie haben diese Bestellung auf einer niedrigeren Stufe freigegeben; jetzt entscheidet jemand anderes.",
        "You approved this order at a lower tier: someone else decides it now.",
    ),
    # absences
    "nav.absences": ("Abwesenheiten", "Absences"),
    "absences.title": ("Abwesenheiten", "Absences"),
    "absences.intro": (
        "Während einer Abwesenheit werden die Bestellungen des abwesenden Freigebers auch der Vertretung zur "
        "Freigabe angeboten; der Freigeber selbst kann weiterhin entscheiden.",
        "During an absence, the absent approver's orders are also offered to the substitute for approval; the "
        "approver can still decide them too.",
    ),
    "absences.show_past": ("Auch vergangene und zurückgezogene anzeigen", "Also show past and withdrawn ones"),
    "absences.hide_past": ("Nur laufende und geplante anzeigen", "Show only current and upcoming ones"),
    "absences.col.approver": ("Abwesend", "Absent"),
    "absences.col.substitute": ("Vertretung", "Substitute"),
    "absences.col.from": ("Von", "From"),
    "absences.col.until": ("Bis", "Until"),
    "absences.col.state": ("Status", "Status"),
    "absences.col.recorded": ("Erfasst von", "Recorded by"),
    "absences.state.upcoming": ("geplant", "upcoming"),
    "absences.state.in_force": ("läuft", "in force"),
    "absences.state.ended": ("beendet", "ended"),
    "absences.state.withdrawn": ("zurückgezogen", "withdrawn"),
    "absences.withdrawn_by": ("zurückgezogen von {name} am {at}", "withdrawn by {name} on {at}"),
    "absences.withdraw": ("Abwesenheit von {name} zurückziehen", "Withdraw the absence of {name}"),
    "absences.empty": ("Keine laufenden oder geplanten Abwesenheiten.", "No current or upcoming absences."),
    "absences.empty_past": ("Keine Abwesenheiten.", "No absences."),
    "absences.new": ("Abwesenheit eintragen", "Record an absence"),
    "absences.own": ("Sie tragen Ihre eigene Abwesenheit ein.", "You record your own absence."),
    "absences.approver": ("Wer ist abwesend?", "Who is away?"),
    "absences.substitute": ("Wer vertritt?", "Who substitutes?"),
    "absences.choose": ("– bitte wählen –", "– please choose –"),
    "absences.from": ("Von", "From"),
    "absences.until": ("Bis (ausschließlich)", "Until (exclusive)"),
    "absences.zone_hint": ("Uhrzeit in Deutschland (Europe/Berlin).", "Time in Germany (Europe/Berlin)."),
    "absences.until_hint": (
        "Ab diesem Zeitpunkt entscheidet die Vertretung nicht mehr; höchstens 366 Tage nach dem Beginn.",
        "From this moment the substitute no longer decides; at most 366 days after the start.",
    ),
    "absences.not_a_time": ("Bitte Datum und Uhrzeit angeben.", "Please give a date and a time."),
    "absences.record": ("Abwesenheit eintragen", "Record absence"),
    "absences.recorded": ("Die Abwesenheit ist eingetragen.", "The absence has been recorded."),
    "absences.withdrawn": ("Die Abwesenheit ist zurückgezogen.", "The absence has been withdrawn."),
    # notification preferences (ADR 0027)
    "nav.notifications": ("Benachrichtigungen", "Notifications"),
    "nav.deadlines": ("Fristen", "Deadlines"),
    "deadlines.title": ("Fristen für wartende Bestellungen", "Deadlines for waiting orders"),
    "deadlines.intro": (
        "Wartet eine Bestellung auf eine Freigabe, erinnert das Kundencenter die Freigebenden, eskaliert sie (an die "
        "nächste Stufe, sonst an Sie als Hauptkontakt) und lässt sie ablaufen – jeweils nach der Zeit, die Sie hier "
        "festlegen, gerechnet ab dem Beginn des Wartens. Ein leeres Feld: dieser Schritt entfällt.",
        "When an order waits for approval, the customer center reminds the approvers, escalates it (to the next tier, "
        "else to you as the main contact) and lets it expire – each after the time you set here, counted from when it "
        "began to wait. An empty field: that step is not taken.",
    ),
    "deadlines.remind_after": ("Erinnern nach", "Remind after"),
    "deadlines.escalate_after": ("Eskalieren nach", "Escalate after"),
    "deadlines.expire_after": ("Ablaufen lassen nach", "Expire after"),
    "deadlines.hours": ("Stunden", "hours"),
    "deadlines.days": ("Tagen", "days"),
    "deadlines.hint.remind_after": (
        "Die Freigebenden erhalten die Anfrage noch einmal, als Erinnerung.",
        "The approvers get the request again, as a reminder.",
    ),
    "deadlines.hint.escalate_after": (
        "Mit Freigabestufen: an die nächste Stufe; sonst entscheiden Sie als Hauptkontakt mit.",
        "With approval tiers: to the next tier; otherwise you decide as well, as the main contact.",
    ),
    "deadlines.hint.expire_after": (
        "Die Bestellung läuft ab; der Besteller wird benachrichtigt und kann sie erneut einreichen.",
        "The order expires; the buyer is told and may send it again.",
    ),
    "deadlines.calendar": (
        "Die Fristen laufen in Kalenderzeit, auch am Wochenende.",
        "Deadlines run in calendar time, weekends included.",
    ),
    "deadlines.save": ("Fristen speichern", "Save the deadlines"),
    "deadlines.saved": ("Die Fristen sind gespeichert.", "The deadlines have been saved."),
    "deadlines.changed_at": ("Zuletzt geändert am {at}.", "Last changed on {at}."),
    "deadlines.error.number": (
        "Bitte geben Sie positive Zahlen ein oder lassen Sie das Feld leer.",
        "Please enter positive numbers or leave the field empty.",
    ),
    "error.invalid_deadlines": (
        "Die Fristen passen nicht: Jede muss länger sein als die vorige (erinnern, dann eskalieren, dann ablaufen), "
        "mindestens eine Stunde und höchstens 365 Tage.",
        "The deadlines do not fit: each must be longer than the one before (remind, then escalate, then expire), at "
        "least an hour and at most 365 days.",
    ),
    "notify.title": ("Benachrichtigungen per E-Mail", "E-mail notifications"),
    "notify.intro": (
        "Wählen Sie je Art von Mail: sofort, gesammelt in einer täglichen Zusammenfassung (um {hour}:00 Uhr, Zeitzone "
        "{zone}) oder gar nicht. Mails, die eine Entscheidung von Ihnen erwarten, lassen sich nicht abschalten.",
        "Choose for each kind of mail: at once, collected in a daily digest (at {hour}:00, time zone {zone}) or not at "
        "all. Mails that wait for a decision of yours cannot be switched off.",
    ),
    "notify.kind.approval_requested": ("Freigabe erbeten", "Approval requested"),
    "notify.kind.substitute_offer": ("Freigabe erbeten als Vertretung", "Approval requested as a substitute"),
    "notify.kind.approval_reassigned": ("Bestellung an Sie weitergeleitet", "Order routed to you"),
    "notify.kind.order_approved": ("Bestellung freigegeben", "Order approved"),
    "notify.kind.order_rejected": ("Bestellung abgelehnt", "Order rejected"),
    "notify.kind.order_expired": ("Bestellung abgelaufen (Frist)", "Order expired (deadline)"),
    "notify.kind.order_released_on_re_evaluation": (
        "Bestellung nach neuer Budgetprüfung freigegeben",
        "Order released after a new budget check",
    ),
    "notify.kind.order_credit_hold": ("Bestellung wartet auf den Kreditrahmen", "Order waiting for the credit limit"),
    "notify.kind.order_credit_hold_figures": (
        "Bestellung wartet auf den Kreditrahmen – mit den Zahlen (Hauptkontakt)",
        "Order waiting for the credit limit – with the figures (main contact)",
    ),
    "notify.about.approval_requested": (
        "Eine Bestellung über dem Budget wartet auf Ihre Entscheidung.",
        "An order over budget waits for your decision.",
    ),
    "notify.about.substitute_offer": (
        "Sie vertreten einen abwesenden Freigeber, und eine seiner Bestellungen wartet.",
        "You stand in for an absent approver, and one of their orders waits.",
    ),
    "notify.about.order_approved": (
        "Ihre Bestellung wurde freigegeben (mit allen Änderungen und dem Kommentar).",
        "Your order was approved (with every change and the comment).",
    ),
    "notify.about.order_rejected": (
        "Ihre Bestellung wurde abgelehnt, mit Begründung.",
        "Your order was rejected, with the reason.",
    ),
    "notify.action_needed": ("erwartet Ihre Entscheidung", "needs your decision"),
    "notify.cannot_be_off": (
        "Sofort oder in der Zusammenfassung – abschalten geht nicht.",
        "At once or in the digest – it cannot be switched off.",
    ),
    "notify.delivery.immediately": ("sofort", "at once"),
    "notify.delivery.digest": ("in der täglichen Zusammenfassung", "in the daily digest"),
    "notify.delivery.none": ("gar nicht", "not at all"),
    "notify.save": ("Speichern", "Save"),
    "notify.saved": ("Ihre Einstellungen sind gespeichert.", "Your choices have been saved."),
    "notify.changed_at": ("Zuletzt geändert am {at}.", "Last changed on {at}."),
    "error.unknown_kind": ("Diese Art von Mail gibt es nicht.", "There is no such kind of mail."),
    "error.action_mail_cannot_be_off": (
        "Mails, die eine Entscheidung von Ihnen erwarten, lassen sich nicht abschalten – nur sofort oder gesammelt.",
        "Mails that wait for a decision of yours cannot be switched off – only at once or in the digest.",
    ),
    # users
    "users.title": ("Benutzerverwaltung", "User management"),
    "users.new": ("Benutzer anlegen", "Create user"),
    "users.col.name": ("Name", "Name"),
    "users.col.email": ("E-Mail", "E-mail"),
    "users.col.status": ("Status", "Status"),
    "users.col.roles": ("Rollen", "Roles"),
    "users.col.approver": ("Freigeber", "Approver"),
    "users.status.active": ("aktiv", "active"),
    "users.status.inactive": ("deaktiviert", "deactivated"),
    "users.status.invited": ("eingeladen", "invited"),
    "users.filter_status": ("Status", "Status"),
    "users.filter_role": ("Rolle", "Role"),
    "users.first_name": ("Vorname", "First name"),
    "users.last_name": ("Nachname", "Last name"),
    "users.email": ("E-Mail-Adresse", "E-mail address"),
    "users.language": ("Sprache", "Language"),
    "users.roles": ("Rollen", "Roles"),
    "users.budget": ("Budget je Bestellung", "Budget per order"),
    "users.max_quantity": ("Höchstmenge (Stück)", "Maximum quantity (pieces)"),
    "users.max_value": ("Höchster Bestellwert ({currency})", "Maximum order value ({currency})"),
    "users.budget_hint": ("Leer lassen für unbegrenzt.", "Leave empty for unlimited."),
    "users.create": ("Anlegen", "Create"),
    "users.created": ("Der Benutzer ist angelegt.", "The user has been created."),
    "users.saved": ("Gespeichert.", "Saved."),
    "users.name_section": ("Name", "Name"),
    "users.email_section": ("E-Mail-Adresse ändern", "Change e-mail address"),
    "users.email_pending": (
        "Wir haben einen Bestätigungslink an {email} geschickt; bis zur Bestätigung gilt die bisherige Adresse.",
        "We sent a confirmation link to {email}; the current address stays until it is confirmed.",
    ),
    "users.status_section": ("Zugang", "Access"),
    "users.activate": ("Aktivieren", "Activate"),
    "users.deactivate": ("Deaktivieren", "Deactivate"),
    "users.activated": ("Der Benutzer ist aktiviert.", "The user has been activated."),
    "users.deactivated": ("Der Benutzer ist deaktiviert.", "The user has been deactivated."),
    "users.approvers": ("Freigeber der Firma", "The company's approvers"),
    "users.approvers_hint": (
        "Bestellungen über Budget gehen an diese Personen; ist niemand benannt, entscheidet der Hauptkontakt.",
        "Orders over budget go to these people; where nobody is named, the main contact decides.",
    ),
    "users.main_contact_decides": ("Es entscheidet der Hauptkontakt.", "The main contact decides."),
    "users.make_approver": ("Als Freigeber benennen", "Name as approver"),
    "users.remove_approver": ("Nicht mehr Freigeber", "Remove as approver"),
    "users.erp_contacts": ("Bekannte Ansprechpartner aus dem ERP", "Contacts the ERP knows"),
    "users.erp_contacts_empty": ("Keine weiteren Ansprechpartner im ERP.", "No further contacts in the ERP."),
    "users.take_over": ("{name} übernehmen", "Take over {name}"),
    "users.taken_over": ("Der Ansprechpartner ist jetzt Benutzer.", "The contact is now a user."),
    "users.main_contact": ("Hauptkontakt", "Main contact"),
    "users.erased_note": (
        "Dieser Benutzer wurde gelöscht: Name und E-Mail-Adresse sind endgültig entfernt. Bestellungen und Protokoll "
        "zeigen ihn weiter als gelöschten Benutzer.",
        "This user has been erased: their name and e-mail address are gone for good. Orders and the audit log still "
        "show them as an erased user.",
    ),
    "users.erasure_section": ("Personendaten löschen", "Erase personal data"),
    "users.erasure_hint": (
        "Nur für deaktivierte Benutzer; kann nicht rückgängig gemacht werden.",
        "Only for deactivated users; this cannot be undone.",
    ),
    "users.erase": ("Benutzer löschen …", "Erase user …"),
    "users.erasure_title": ("{name} löschen", "Erase {name}"),
    "users.erasure_intro": (
        "Sie löschen die Personendaten dieses Benutzers auf Wunsch des Betroffenen.",
        "You are erasing this user's personal data, as the person asked.",
    ),
    "users.erasure_what": (
        "Name, E-Mail-Adresse und alles, was der Benutzer geschrieben hat (Kommentare, Nachrichten), werden überall "
        "unlesbar.",
        "Their name, e-mail address and everything they wrote (comments, messages) become unreadable everywhere.",
    ),
    "users.erasure_kept": (
        "Bestellungen, Freigaben und das Protokoll bleiben erhalten und zeigen „gelöschter Benutzer“.",
        "Orders, approvals and the audit log stay and show “erased user”.",
    ),
    "users.erasure_final": (
        "Das kann nicht rückgängig gemacht werden; der Benutzer kann nicht wieder aktiviert werden.",
        "This cannot be undone; the user can never be activated again.",
    ),
    "users.erasure_confirm": (
        "Ja, {name} endgültig löschen.",
        "Yes, erase {name} for good.",
    ),
    "users.erase_for_good": ("Endgültig löschen", "Erase for good"),
    "users.erasure_unconfirmed": (
        "Bitte bestätigen Sie die Löschung mit dem Häkchen.",
        "Please confirm the erasure with the tick box.",
    ),
    "users.erased": ("Der Benutzer ist gelöscht.", "The user has been erased."),
    # a person users erased (ADR 0035): their id stays, their name and words do not
    "person.erased": ("Gelöschter Benutzer", "Erased user"),
    "person.words_removed": ("(entfernt)", "(removed)"),
    "roles.title": ("Rollen und Rechte", "Roles and permissions"),
    "roles.col.name": ("Rolle", "Role"),
    "roles.col.permissions": ("Rechte", "Permissions"),
    "roles.col.kind": ("Art", "Kind"),
    "roles.predefined": ("vordefiniert", "predefined"),
    "roles.custom": ("eigene", "custom"),
    "roles.new": ("Eigene Rolle anlegen", "Define a custom role"),
    "roles.name": ("Name der Rolle", "Name of the role"),
    "roles.description": ("Beschreibung", "Description"),
    "roles.permissions": ("Rechte der Rolle", "Permissions of the role"),
    "roles.define": ("Rolle anlegen", "Define role"),
    "roles.delete": ("Rolle {name} löschen", "Delete role {name}"),
    "roles.defined": ("Die Rolle ist angelegt.", "The role has been defined."),
    "roles.deleted": ("Die Rolle ist gelöscht.", "The role has been deleted."),
    "permission.place_orders": ("bestellen", "place orders"),
    "permission.approve_orders": ("Bestellungen freigeben", "approve orders"),
    "permission.view_company_orders": ("alle Bestellungen der Firma sehen", "see all of the company's orders"),
    "permission.manage_users": ("Benutzer verwalten", "manage users"),
    "permission.manage_budgets": ("Budgets verwalten", "manage budgets"),
    "permission.view_data_sheets": ("Datenblätter lesen", "read data sheets"),
    "permission.view_reports": ("Kennzahlen lesen", "read figures"),
    "nav.roles": ("Rollen", "Roles"),
    "error.role_name_taken": ("Eine Rolle mit diesem Namen gibt es schon.", "A role with this name exists already."),
    "error.role_in_use": (
        "Die Rolle ist noch vergeben; entziehen Sie sie zuerst allen Benutzern.",
        "The role is still held; take it from every user first.",
    ),
    "audit.title": ("Protokoll", "Audit log"),
    "audit.col.at": ("Zeitpunkt", "When"),
    "audit.col.action": ("Aktion", "Action"),
    "audit.col.actor": ("Von", "By"),
    "audit.col.subject": ("Betrifft", "About"),
    "audit.col.details": ("Details", "Details"),
    "audit.older": ("Ältere Einträge", "Older entries"),
    "audit.company.approvers_set": ("Freigeber benannt", "approvers named"),
    "audit.company.created": ("Firma angelegt", "company created"),
    "audit.company.erp_contact_recorded": ("Ansprechpartner im ERP bekannt", "contact known in the ERP"),
    "audit.company.erp_contact_taken_over": (
        "Ansprechpartner aus dem ERP als Benutzer übernommen",
        "ERP contact taken over",
    ),
    "audit.company.erp_master_data_changed": ("Stammdaten im ERP geändert", "master data changed in the ERP"),
    "audit.company.main_contact_transferred": ("Hauptkontakt übergeben", "main contact handed over"),
    "audit.role.changed": ("Rolle geändert", "role changed"),
    "audit.role.defined": ("Rolle angelegt", "role defined"),
    "audit.role.deleted": ("Rolle gelöscht", "role deleted"),
    "audit.user.activated": ("Benutzer aktiviert", "user activated"),
    "audit.user.budget_set": ("Budget gesetzt", "budget set"),
    "audit.user.created": ("Benutzer angelegt", "user created"),
    "audit.user.deactivated": ("Benutzer deaktiviert", "user deactivated"),
    "audit.user.email_change_requested": ("Änderung der E-Mail-Adresse angefordert", "e-mail change requested"),
    "audit.user.email_changed": ("E-Mail-Adresse geändert", "e-mail address changed"),
    "audit.user.renamed": ("Name geändert", "name changed"),
    "audit.user.roles_set": ("Rollen gesetzt", "roles set"),
    "audit.user.sign_in_bound": ("erste Anmeldung", "first sign-in"),
    # API error codes (a refusal, in the user's language)
    "error.csrf": (
        "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es erneut.",
        "The form has expired. Please reload the page and try again.",
    ),
    "error.validation_failed": ("Bitte prüfen Sie Ihre Eingaben.", "Please check your input."),
    "error.not_found": ("Nicht gefunden.", "Not found."),
    "error.bundle_mismatch": (
        "Diese Bestellungen lassen sich nicht bündeln: Liefer- oder Rechnungsadresse, Zahlungs- oder Versandart oder "
        "Währung unterscheiden sich.",
        "These orders cannot be bundled: their delivery or billing address, payment or shipping method or currency "
        "differ.",
    ),
    "error.bundle_refused": (
        "Diese Bestellung kann nicht im Bündel freigegeben werden (sie braucht eine höhere Freigabestufe oder wartet "
        "auf Kreditlimit). Entscheiden Sie sie einzeln; nichts wurde gespeichert.",
        "This order cannot be approved in a bundle (it needs a higher approval tier or would wait for credit). Decide "
        "it on its own; nothing was stored.",
    ),
    "error.forbidden": ("Dafür fehlt Ihnen die Berechtigung.", "You do not have the permission for that."),
    "error.api_unreachable": (
        "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
        "The service cannot be reached right now. Please try again in a moment.",
    ),
    "error.service_unavailable": (
        "Der Dienst ist kurz nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.",
        "The service is briefly unavailable. Please try again in a moment.",
    ),
    "error.bad_gateway": (
        "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
        "The service cannot be reached right now. Please try again in a moment.",
    ),
    "error.too_many_requests": (
        "Zu viele Versuche. Bitte warten Sie einen Moment.",
        "Too many attempts. Please wait a moment.",
    ),
    "error.locked_out": (
        "Zu viele fehlgeschlagene Versuche. Bitte versuchen Sie es später erneut.",
        "Too many failed attempts. Please try again later.",
    ),
    "error.verification_failed": (
        "Kundennummer und Rechnungsnummer passen nicht zusammen oder der Zugang ist für diese Firma nicht "
        "freigeschaltet. Bitte prüfen Sie Ihre Angaben.",
        "The customer number and invoice number do not match, or access is not enabled for this company. "
        "Please check your details.",
    ),
    "error.already_registered": (
        "Diese Firma ist bereits registriert. Bitte wenden Sie sich an Ihren Hauptkontakt.",
        "This company is already registered. Please ask your main contact.",
    ),
    "error.email_taken": (
        "Diese E-Mail-Adresse gehört bereits zu einem Benutzer.",
        "This e-mail address already belongs to a user.",
    ),
    "error.invalid_token": (
        "Der Bestätigungslink ist ungültig. Bitte öffnen Sie den Link aus der E-Mail erneut.",
        "The confirmation link is not valid. Please open the link from the e-mail again.",
    ),
    "error.confirmation_expired": (
        "Der Bestätigungslink ist abgelaufen. Bitte registrieren Sie sich erneut.",
        "The confirmation link has expired. Please register again.",
    ),
    "error.unknown_user": (
        "Zu dieser Anmeldung gibt es keinen Benutzer im Kundencenter.",
        "There is no user of the customer center for this sign-in.",
    ),
    "error.user_inactive": (
        "Ihr Zugang wurde deaktiviert. Bitte wenden Sie sich an Ihren Hauptkontakt.",
        "Your access has been deactivated. Please ask your main contact.",
    ),
    "error.identity_mismatch": (
        "Diese Anmeldung gehört zu einem anderen Konto.",
        "This sign-in belongs to another account.",
    ),
    "error.email_not_verified": (
        "Ihre E-Mail-Adresse ist beim Anmeldedienst nicht bestätigt.",
        "Your e-mail address is not verified by the sign-in provider.",
    ),
    "error.cannot_change_own_roles": (
        "Ihre eigenen Rollen können Sie nicht ändern.",
        "You cannot change your own roles.",
    ),
    "error.cannot_change_own_budget": (
        "Ihr eigenes Budget können Sie nicht ändern.",
        "You cannot change your own budget.",
    ),
    "error.cannot_change_own_approver_status": (
        "Ob Sie selbst Freigeber sind, können Sie nicht ändern.",
        "You cannot change whether you are an approver yourself.",
    ),
    "error.cannot_grant_unheld_permission": (
        "Sie können keine Berechtigung vergeben, die Sie selbst nicht haben.",
        "You cannot grant a permission you do not hold.",
    ),
    "error.main_contact_only": ("Das darf nur der Hauptkontakt.", "Only the main contact may do that."),
    "error.not_yet_in_force": (
        "Die Änderung ist gespeichert, aber noch nicht überall wirksam. Bitte laden Sie die Seite neu.",
        "The change is stored but not yet in force everywhere. Please reload the page.",
    ),
    "error.conflict": (
        "Jemand hat das gerade geändert. Bitte laden Sie die Seite neu.",
        "Somebody has just changed this. Please reload the page.",
    ),
    "error.price_changed": (
        "Die Preise haben sich geändert. Bitte prüfen Sie die Bestellung erneut.",
        "The prices have changed. Please check the order again.",
    ),
    "error.unknown_article": ("Diesen Artikel gibt es nicht.", "There is no such article."),
    "error.article_blocked": ("Dieser Artikel ist gesperrt.", "This article is blocked."),
    "error.invalid_transition": (
        "Das ist in diesem Status der Bestellung nicht möglich.",
        "That is not possible in the order's current status.",
    ),
    "error.not_an_approver": (
        "Die abwesende Person entscheidet keine Bestellungen; es gibt niemanden zu vertreten.",
        "The absent person decides no orders: there is nobody to substitute.",
    ),
    "error.invalid_period": ("Das Ende muss nach dem Beginn liegen.", "The end must come after the start."),
    "error.period_too_long": (
        "Eine Abwesenheit kann höchstens 366 Tage dauern.",
        "An absence can last at most 366 days.",
    ),
    "error.period_over": ("Dieser Zeitraum ist schon vorbei.", "This period is over already."),
    "error.invalid_substitute": (
        "Die Vertretung muss ein anderer aktiver Benutzer sein, der Bestellungen freigeben darf.",
        "The substitute must be another active user who may approve orders.",
    ),
    "error.cannot_approve_own_order": (
        "Die eigene Bestellung können Sie nicht freigeben.",
        "You cannot approve your own order.",
    ),
    "error.invalid_request": ("Bitte prüfen Sie Ihre Eingaben.", "Please check your input."),
    "error.invalid_characters": (
        "Texte dürfen keine Steuerzeichen enthalten.",
        "Text may not contain control characters.",
    ),
    "error.not_allowed": (
        "Das Kundencenter ist für Ihre Firma nicht freigeschaltet, oder Ihnen fehlt die Berechtigung.",
        "The customer center is not enabled for your company, or you lack the permission.",
    ),
    "error.erp_unavailable": (
        "Wir konnten Ihre Angaben nicht rechtzeitig prüfen. Bitte versuchen Sie es später erneut.",
        "We could not verify your details in time. Please try again later.",
    ),
    "error.too_many_attempts": (
        "Zu viele Versuche. Bitte warten Sie eine Weile, bevor Sie es erneut versuchen.",
        "Too many attempts. Please wait a while before you try again.",
    ),
    "error.too_many_confirmation_failures": (
        "Zu viele falsche Bestätigungen. Bitte registrieren Sie sich erneut.",
        "Too many wrong confirmations. Please register again.",
    ),
    "error.invalid_confirmation_token": (
        "Der Bestätigungslink ist ungültig. Bitte öffnen Sie den Link aus der E-Mail erneut.",
        "The confirmation link is not valid. Please open the link from the e-mail again.",
    ),
    "error.confirmation_token_expired": (
        "Der Bestätigungslink ist abgelaufen. Bitte registrieren Sie sich erneut.",
        "The confirmation link has expired. Please register again.",
    ),
    "error.confirmation_token_used": ("Dieser Link wurde bereits verwendet.", "This link has already been used."),
    "error.not_awaiting_confirmation": (
        "Diese Registrierung kann nicht (mehr) bestätigt werden.",
        "This registration cannot be confirmed (any more).",
    ),
    "error.self_approval": ("Die eigene Bestellung können Sie nicht freigeben.", "You cannot approve your own order."),
    "error.wrong_state": (
        "Das ist im jetzigen Status der Bestellung nicht möglich.",
        "That is not possible in the order's current status.",
    ),
    "error.version_mismatch": (
        "Jemand hat das gerade geändert. Bitte laden Sie die Seite neu.",
        "Somebody has just changed this. Please reload the page.",
    ),
    "error.articles_refused": (
        "Einige Artikel können Sie nicht bestellen (unbekannt oder gesperrt).",
        "Some articles cannot be ordered (unknown or blocked).",
    ),
    "error.ordering_blocked": ("Ihre Firma kann gerade nicht bestellen.", "Your company cannot order at the moment."),
    "error.missing_permission": ("Dafür fehlt Ihnen die Berechtigung.", "You do not have the permission for that."),
    "error.cannot_deactivate_self": ("Sie können sich nicht selbst deaktivieren.", "You cannot deactivate yourself."),
    "error.cannot_deactivate_main_contact": (
        "Der Hauptkontakt kann nicht deaktiviert werden.",
        "The main contact cannot be deactivated.",
    ),
    "error.user_erased": (
        "Dieser Benutzer wurde gelöscht und kann nicht mehr geändert werden.",
        "This user has been erased and can no longer be changed.",
    ),
    "error.user_not_deactivated": (
        "Nur deaktivierte Benutzer können gelöscht werden. Bitte deaktivieren Sie den Benutzer zuerst.",
        "Only deactivated users can be erased. Please deactivate the user first.",
    ),
    "error.cannot_erase_self": ("Sie können sich nicht selbst löschen.", "You cannot erase yourself."),
    "error.cannot_erase_main_contact": (
        "Der Hauptkontakt kann nicht gelöscht werden.",
        "The main contact cannot be erased.",
    ),
    "error.invalid_budget": ("Das Budget ist ungültig.", "The budget is not valid."),
    "error.invalid_name": ("Der Name ist ungültig.", "The name is not valid."),
    "error.invalid_email": ("Die E-Mail-Adresse ist ungültig.", "The e-mail address is not valid."),
    "error.unknown_role": ("Diese Rolle gibt es nicht.", "There is no such role."),
    "error.invalid_approver": (
        "Nur aktive Benutzer mit Freigaberecht können Freigeber sein.",
        "Only active users who may approve orders can be approvers.",
    ),
    "error.identity_provider_unavailable": (
        "Der Anmeldedienst ist gerade nicht erreichbar.",
        "The sign-in provider cannot be reached right now.",
    ),
    "error.unknown": ("Es ist ein Fehler aufgetreten ({code}).", "Something went wrong ({code})."),
}


def pick(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT


def from_accept_language(header: str | None) -> str:
    """The first of our languages the browser asks for (quality order as sent; good enough for two)."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT


class Texts:
    """The texts, money and dates of one language; templates call it as ``t("key", name=…)``."""

    def __init__(self, language: str | None) -> None:
        self.language = pick(language)
        self.locale = LOCALES[self.language]
        self._index = LANGUAGES.index(self.language)

    def __call__(self, key: str, **values: Any) -> str:
        pair = TEXTS.get(key)
        text = pair[self._index] if pair else key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in TEXTS

    def error(self, code: str, message: str = "") -> str:
        key = f"error.{code}"
        if key in TEXTS:
            return self(key)
        if message:
            return message
        return self("error.unknown", code=code)

    def money(self, amount: Any, currency: str | None = None) -> str:
        if isinstance(amount, dict):
            amount, currency = amount.get("amount"), amount.get("currency")
        if amount is None:
            return "–"
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            return str(amount)
        if not currency:
            return format_decimal(value, locale=self.locale)
        return format_currency(value, currency, locale=self.locale)

    def number(self, value: Any) -> str:
        if value is None:
            return "–"
        return format_decimal(Decimal(str(value)), locale=self.locale)

    def datetime(self, value: Any) -> str:
        if not value:
            return "–"
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return format_datetime(moment, "medium", tzinfo=TIMEZONE, locale=self.locale)

    def status(self, status: str) -> str:
        key = f"status.{status}"
        return self(key) if key in TEXTS else status.replace("_", " ")
