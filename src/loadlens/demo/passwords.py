"""Password hashes in a self-describing format: `pbkdf2_sha256$<iterations>$<salt>$<hash>`.

The iteration count lives in each hash (like bcrypt's cost), so accounts hashed at different
costs verify at different speeds: that is what the `slow-hash` fault relies on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
# Cheap on purpose: the demo measures the load tester, not the hash. Real services use 600_000.
DEFAULT_ITERATIONS = 1_000


def hash_password(password: str, *, iterations: int, salt: str | None = None) -> str:
    """Hash `password` with PBKDF2-SHA256 at `iterations`; a fresh salt unless one is given."""
    salt = salt if salt is not None else secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches `encoded`, at the cost recorded in `encoded`."""
    try:
        algorithm, iterations, salt, expected = encoded.split("$")
        cost = int(iterations)
    except ValueError:
        return False
    if algorithm != ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), cost)
    return hmac.compare_digest(digest.hex(), expected)
