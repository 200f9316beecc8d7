"""SMTP sink: stands in for a mailbox (local stack and tests only).

A real SMTP server (aiosmtpd) that accepts every mail for every recipient and keeps it for inspection over
HTTP (``GET /messages``), in memory and, when ``SMTP_SINK_STORE_FILE`` is set, as JSON lines in that file
(reloaded at start, so mails survive a restart).
"""
