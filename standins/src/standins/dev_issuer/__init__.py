"""Development token issuer: stands in for the shop's identity provider (local stack and tests only).

``POST /dev-auth/token`` mints an RS256 access token for any subject; the public keys are at
``GET /.well-known/jwks.json``. It refuses to start unless ``DEV_ISSUER_ENABLED=true``.
"""
