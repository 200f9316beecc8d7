"""Use cases of the users service (filled in by the user administration issue)."""

from kc_runtime.eventstore import ServiceApplication


class Directory(ServiceApplication):
    name = "Directory"
