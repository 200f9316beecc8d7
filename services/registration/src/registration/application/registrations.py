"""Use cases of the registration service (filled in by the self-registration issue)."""

from kc_runtime.eventstore import ServiceApplication


class Registrations(ServiceApplication):
    name = "Registrations"
