"""Use cases of the notifications service (filled in by the approval issue)."""

from kc_runtime.eventstore import ServiceApplication


class Mails(ServiceApplication):
    name = "Mails"
