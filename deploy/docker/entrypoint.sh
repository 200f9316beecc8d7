#!/bin/sh
# `python -m <module>` for the service this image was built for; exec, so python is PID 1 and gets SIGTERM.
set -eu
module="${KC_MODULE:-$(printf '%s' "${KC_SERVICE:?KC_SERVICE not set}" | tr '-' '_')}"
exec python -m "$module" "$@"
