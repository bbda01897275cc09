"""First start: make sure someone can log in."""

from __future__ import annotations

import secrets

from orcrustator.auth.passwords import check_password_policy, hash_password
from orcrustator.db.engine import Database
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import Conflict
from orcrustator.settings import Settings

ADMIN_USERNAME = "admin"


async def ensure_admin(settings: Settings, db: Database) -> str | None:
    """On an empty users table create `admin`; return the password when it was generated here."""
    async with db.write() as conn:
        if await users_repo.count(conn) > 0:
            return None
        if settings.admin_password is not None:
            password = settings.admin_password.get_secret_value()
            check_password_policy(password)
            generated = None
        else:
            password = generated = secrets.token_urlsafe(18)
        try:
            await users_repo.create(
                conn, username=ADMIN_USERNAME, password_hash=hash_password(password), is_admin=True
            )
        except Conflict:
            return None  # another api process bootstrapped at the same moment
    return generated
