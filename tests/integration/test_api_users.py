"""Users: who am I, and the admin-only account management."""

from __future__ import annotations

import uuid

from tests.integration.conftest import Api, login

USERS = "/api/v1/users"
PUBLIC_FIELDS = {"user_id", "username", "is_admin", "created_at", "updated_at"}
NEW_PASSWORD = "a-fine-new-password"


def test_me_describes_the_caller(admin: Api, user: Api) -> None:
    me_admin = admin.get(f"{USERS}/me")
    me_user = user.get(f"{USERS}/me")
    assert me_admin.status_code == me_user.status_code == 200
    assert set(me_admin.json()) == PUBLIC_FIELDS
    assert (me_admin.json()["username"], me_admin.json()["is_admin"]) == ("admin", True)
    assert (me_user.json()["username"], me_user.json()["is_admin"]) == ("alice", False)
    assert me_admin.json()["user_id"] != me_user.json()["user_id"]


def test_admin_creates_a_user_who_can_log_in(admin: Api) -> None:
    response = admin.post(USERS, json={"username": "bob", "password": NEW_PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["username"] == "bob"
    assert body["is_admin"] is False
    uuid.UUID(body["user_id"])
    assert "password" not in response.text
    assert "argon2" not in response.text

    headers = login(admin.client, "bob", NEW_PASSWORD)
    me = admin.client.get(f"{USERS}/me", headers=headers)
    assert me.json()["user_id"] == body["user_id"]


def test_a_created_admin_may_manage_users(admin: Api) -> None:
    created = admin.post(
        USERS, json={"username": "root2", "password": NEW_PASSWORD, "is_admin": True}
    )
    assert created.status_code == 201
    assert created.json()["is_admin"] is True
    headers = login(admin.client, "root2", NEW_PASSWORD)
    assert admin.client.get(USERS, headers=headers).status_code == 200


def test_admin_lists_users_without_secrets(admin: Api, user: Api) -> None:
    response = admin.get(USERS)
    assert response.status_code == 200
    users = response.json()
    assert [u["username"] for u in users] == ["admin", "alice"]
    assert all(set(u) == PUBLIC_FIELDS for u in users)
    assert "password" not in response.text
    page = admin.get(f"{USERS}?limit=1&offset=1")
    assert [u["username"] for u in page.json()] == ["alice"]


def test_list_users_checks_bounds(admin: Api) -> None:
    for query, field in [("limit=0", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset")]:
        response = admin.get(f"{USERS}?{query}")
        assert response.status_code == 422, query
        assert response.json()["field"] == field


def test_duplicate_username_conflicts(admin: Api) -> None:
    response = admin.post(USERS, json={"username": "admin", "password": NEW_PASSWORD})
    assert response.status_code == 409
    assert response.json()["field"] == "username"
    assert "already exists" in response.json()["detail"]


def test_password_of_eleven_characters_is_refused(admin: Api) -> None:
    response = admin.post(USERS, json={"username": "bob", "password": "x" * 11})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "password"
    assert "12 characters" in body["detail"]
    assert "bob" not in [u["username"] for u in admin.get(USERS).json()]
    assert admin.post(USERS, json={"username": "bob", "password": "x" * 12}).status_code == 201


def test_overlong_password_is_refused(admin: Api) -> None:
    response = admin.post(USERS, json={"username": "bob", "password": "x" * 1025})
    assert response.status_code == 422
    assert response.json()["field"] == "password"


def test_password_with_surrounding_spaces_still_logs_in(admin: Api) -> None:
    # Passwords are taken exactly as typed; stripping them would lock the user out.
    password = "  spaced out password  "
    created = admin.post(USERS, json={"username": "bob", "password": password})
    assert created.status_code == 201
    response = admin.client.post(
        "/api/v1/auth/token", data={"username": "bob", "password": password}
    )
    assert response.status_code == 200


BAD_USERNAMES = ["", "-dash", ".dot", "has space", "semi;colon", "ümlaut", "a/b", "x" * 256]
GOOD_USERNAMES = ["b", "bob.smith", "bob_smith-2", "bob@example.com", "0day"]


def test_bad_usernames_are_refused(admin: Api) -> None:
    for username in BAD_USERNAMES:
        response = admin.post(USERS, json={"username": username, "password": NEW_PASSWORD})
        assert response.status_code == 422, (username, response.text)
        assert response.json()["field"] == "username", username
    assert len(admin.get(USERS).json()) == 1


def test_good_usernames_are_accepted(admin: Api) -> None:
    for username in GOOD_USERNAMES:
        response = admin.post(USERS, json={"username": username, "password": NEW_PASSWORD})
        assert response.status_code == 201, (username, response.text)
        assert response.json()["username"] == username


def test_create_user_refuses_unknown_and_missing_fields(admin: Api) -> None:
    extra = admin.post(
        USERS, json={"username": "bob", "password": NEW_PASSWORD, "role": "superuser"}
    )
    assert extra.status_code == 422
    assert extra.json()["field"] == "role"
    missing = admin.post(USERS, json={"username": "bob"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "password"


def test_non_admin_is_forbidden(admin: Api, user: Api) -> None:
    admin_id = admin.get(f"{USERS}/me").json()["user_id"]
    body = {"username": "mallory", "password": NEW_PASSWORD}
    for response in (
        user.post(USERS, json=body),
        user.post(USERS, json={**body, "is_admin": True}),
        user.get(USERS),
        user.delete(f"{USERS}/{admin_id}"),
    ):
        assert response.status_code == 403, response.request.method
        assert response.json()["code"] == "forbidden"
    # Nothing happened.
    assert [u["username"] for u in admin.get(USERS).json()] == ["admin", "alice"]


def test_admin_deletes_a_user_whose_token_then_fails(admin: Api, user: Api) -> None:
    alice_id = user.get(f"{USERS}/me").json()["user_id"]
    response = admin.delete(f"{USERS}/{alice_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert user.get(f"{USERS}/me").status_code == 401
    assert [u["username"] for u in admin.get(USERS).json()] == ["admin"]
    assert admin.delete(f"{USERS}/{alice_id}").status_code == 404


def test_admin_may_delete_another_admin(admin: Api) -> None:
    other = admin.post(
        USERS, json={"username": "root2", "password": NEW_PASSWORD, "is_admin": True}
    )
    assert admin.delete(f"{USERS}/{other.json()['user_id']}").status_code == 204


def test_admin_cannot_delete_himself(admin: Api) -> None:
    admin_id = admin.get(f"{USERS}/me").json()["user_id"]
    response = admin.delete(f"{USERS}/{admin_id}")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert admin.get(f"{USERS}/me").status_code == 200


def test_deleting_an_unknown_user_is_not_found(admin: Api) -> None:
    response = admin.delete(f"{USERS}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    malformed = admin.delete(f"{USERS}/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "user_id"
