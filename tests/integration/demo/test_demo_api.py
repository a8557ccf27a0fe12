"""The demo service's endpoints without faults: status codes, bodies, counters."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from demo_http import Client

from loadlens.demo import DemoServer


@pytest.fixture
def client(service: DemoServer) -> Iterator[Client]:
    assert service.url is not None
    with Client(service.url) as client:
        yield client


def stats(client: Client) -> dict[str, object]:
    reply = client.get("/stats")
    assert reply.status == 200
    data: dict[str, object] = reply.json()
    return data


# users


def test_create_then_read_update_delete_a_user(client: Client) -> None:
    created = client.post("/users", {"name": "Ada", "email": "ada@example.test"})
    assert created.status == 201
    user = created.json()
    assert re.fullmatch(r"user-\d+", user["id"])
    assert (user["name"], user["email"]) == ("Ada", "ada@example.test")

    path = f"/users/{user['id']}"
    assert client.get(path).json() == user
    updated = client.request("PUT", path, {"name": "Ada L."})
    assert updated.status == 200
    assert updated.json() == {**user, "name": "Ada L."}
    assert client.get(path).json()["name"] == "Ada L.", "the cache was invalidated by PUT"

    assert client.request("DELETE", path).status == 204
    assert client.get(path).status == 404
    assert client.request("PUT", path, {"name": "x"}).status == 404
    assert client.request("DELETE", path).status == 404


def test_seeded_users_are_readable_and_cached(client: Client) -> None:
    before = stats(client)["cache"]
    first, second = client.get("/users/user-7"), client.get("/users/user-7")
    after = stats(client)["cache"]
    assert first.status == second.status == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json()["id"] == "user-7" and first.body == second.body
    assert isinstance(before, dict) and isinstance(after, dict)
    assert after["hits"] - before["hits"] >= 1


@pytest.mark.parametrize("user_id", ["user-999999", "doc_1234abcd", "user-", "7"])
def test_unknown_or_malformed_user_ids_are_404(client: Client, user_id: str) -> None:
    reply = client.get(f"/users/{user_id}")
    assert reply.status == 404
    assert reply.json() == {"error": f"user {user_id} not found"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name is required"),
        ({"name": 3}, "name must be a string"),
        (b"{not json", None),
        (b"[1]", "the JSON body must be an object"),
    ],
)
def test_invalid_user_bodies_are_400(client: Client, body: object, message: str | None) -> None:
    reply = client.post("/users", body)
    assert reply.status == 400
    if message is not None:
        assert reply.json() == {"error": message}


def test_users_page_with_a_cursor(client: Client) -> None:
    first = client.get("/users?limit=5").json()
    assert [u["id"] for u in first["items"]] == [f"user-{k}" for k in range(5)]
    assert first["next_cursor"] == "user-4"
    second = client.get(f"/users?limit=5&cursor={first['next_cursor']}").json()
    assert [u["id"] for u in second["items"]] == [f"user-{k}" for k in range(5, 10)]


@pytest.mark.parametrize("query", ["cursor=1760996841979", "cursor=doc_x", "limit=0", "limit=x"])
def test_users_page_rejects_bad_parameters(client: Client, query: str) -> None:
    reply = client.get(f"/users?{query}")
    assert reply.status == 400
    name = query.split("=", maxsplit=1)[0]
    assert reply.json()["error"].startswith(f"invalid {name}: ")


# auth


def test_login_then_refresh_rotates_the_refresh_token(client: Client) -> None:
    login = client.post("/auth/login", {"username": "user1", "password": "secret"})
    assert login.status == 200
    tokens = login.json()
    assert tokens["user_id"] == "user-1" and tokens["access_token"] and tokens["refresh_token"]

    refreshed = client.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert refreshed.status == 200
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
    reused = client.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert reused.status == 401
    assert reused.json() == {"error": "invalid refresh token"}


@pytest.mark.parametrize(
    ("username", "password"), [("user1", "wrong"), ("nobody", "secret"), ("user1", "")]
)
def test_bad_credentials_are_401(client: Client, username: str, password: str) -> None:
    reply = client.post("/auth/login", {"username": username, "password": password})
    assert reply.status == 401
    assert reply.json() == {"error": "invalid username or password"}


def test_login_without_fields_is_400(client: Client) -> None:
    assert client.post("/auth/login", {"username": "user1"}).status == 400


# chat


def test_messages_page_newest_first_by_message_id(client: Client) -> None:
    path = "/conversations/conv-page/messages"
    ids = []
    for text in ("one", "two", "three"):
        reply = client.post(path, {"text": text})
        assert reply.status == 201
        message = reply.json()
        assert isinstance(message["id"], int) and message["text"] == text
        ids.append(message["id"])
    assert ids == sorted(ids)

    first = client.get(f"{path}?limit=2").json()
    assert [m["text"] for m in first["items"]] == ["three", "two"]
    assert first["next_cursor"] == ids[1]
    rest = client.get(f"{path}?limit=2&cursor={first['next_cursor']}").json()
    assert [m["text"] for m in rest["items"]] == ["one"]
    assert rest["next_cursor"] is None
    assert client.get("/conversations/empty/messages").json() == {
        "items": [],
        "next_cursor": None,
    }


@pytest.mark.parametrize("cursor", ["2025-10-20T10:00:00Z", "cmh0jvvdo0002105eghtwzzat", "-1"])
def test_a_malformed_cursor_is_400(client: Client, cursor: str) -> None:
    reply = client.get(f"/conversations/c1/messages?cursor={cursor}")
    assert reply.status == 400
    assert reply.json() == {"error": f"invalid cursor: {cursor!r} is not a message id"}


def test_an_empty_message_is_400(client: Client) -> None:
    assert client.post("/conversations/c1/messages", {"text": ""}).status == 400


# clinic


def test_reserve_consume_release_keep_units_consistent(client: Client) -> None:
    created = client.post("/authorizations", {"patient_id": 3, "total_units": 50})
    assert created.status == 201
    auth = created.json()
    assert auth == {
        "id": auth["id"],
        "patient_id": 3,
        "total_units": 50,
        "used_units": 0,
        "scheduled_units": 0,
        "available_units": 50,
    }
    base = f"/authorizations/{auth['id']}"
    assert client.post(f"{base}/reserve", {"units": 30}).json()["scheduled_units"] == 30
    over = client.post(f"{base}/reserve", {"units": 30})
    assert over.status == 409
    assert over.json() == {"error": "insufficient units: 20 available"}
    consumed = client.post(f"{base}/consume", {"units": 10}).json()
    assert (consumed["used_units"], consumed["scheduled_units"]) == (10, 20)
    assert client.post(f"{base}/release", {"units": 20}).json()["scheduled_units"] == 0
    assert client.post(f"{base}/release", {"units": 1}).status == 409
    assert client.post(f"{base}/consume", {"units": 1}).status == 409
    assert client.get(base).json()["available_units"] == 40


def test_clinic_errors(client: Client) -> None:
    assert client.get("/authorizations/999999").status == 404
    assert client.get("/authorizations/abc").status == 404
    assert client.post("/authorizations/1/reserve", {"units": 0}).status == 400
    assert client.post("/authorizations/1/reserve", {"units": True}).status == 400
    assert client.post("/authorizations", {"total_units": -5}).status == 400
    assert client.post("/authorizations", {"patient_id": 9999, "total_units": 5}).status == 404


def test_seeded_clinic_data(client: Client) -> None:
    assert [o["name"] for o in client.get("/organizations").json()["items"]] == [
        "OrgA",
        "OrgB",
        "OrgC",
    ]
    assert client.get("/patients/1").json()["organization_id"] in (1, 2, 3)
    assert client.get("/authorizations/1").json()["total_units"] == 50
    assert client.get("/authorizations/55").json()["total_units"] == 1000


# health and counters


def test_health_reports_the_service(client: Client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["faults"] == []
    assert health["uptime_s"] > 0
    assert health["memory"]["rss"] > 10_000_000
    assert set(health["cache"]) == {"hits", "misses", "size"}
    assert health["db_pool"] == {"size": 8, "in_use": 0, "waiting": 0}
    assert health["requests"]["total"] >= sum(health["requests"]["by_route"].values())
    assert "GET /users/{id}" in health["requests"]["by_route"]


def test_per_route_counters_are_exact(client: Client) -> None:
    before = stats(client)["requests"]
    client.post("/users", {"name": "Counted"})
    for _ in range(3):
        client.get("/users/user-1")
    client.get("/users/user-999999")
    client.post("/auth/login", {"username": "user2", "password": "secret"})
    client.get("/conversations/c9/messages?cursor=bad")
    client.post("/authorizations/2/reserve", {"units": 1})
    client.get("/no/such/route")
    after = stats(client)["requests"]
    assert isinstance(before, dict) and isinstance(after, dict)
    delta = {
        key: count - before["by_route"].get(key, 0)
        for key, count in after["by_route"].items()
        if count != before["by_route"].get(key, 0)
    }
    assert delta == {
        "POST /users": 1,
        "GET /users/{id}": 4,
        "POST /auth/login": 1,
        "GET /conversations/{id}/messages": 1,
        "POST /authorizations/{id}/reserve": 1,
        "GET /stats": 1,
    }
    assert after["total"] - before["total"] == 10, "the unmatched route counts in total only"


# rate limiting


def test_rate_limit_answers_429_with_retry_after(start_demo: Callable[..., DemoServer]) -> None:
    server = start_demo(rate_limit_per_s=1)
    assert server.url is not None
    with Client(server.url) as client:
        replies = [client.get("/users/user-1", headers={"X-Client-Id": "a"}) for _ in range(5)]
        other = client.get("/users/user-1", headers={"X-Client-Id": "b"})
        health = client.get("/health")
    assert replies[0].status == 200
    assert replies[0].headers["ratelimit-remaining"] == "0"
    limited = [reply for reply in replies if reply.status == 429]
    assert len(limited) >= 3
    for reply in limited:
        assert reply.headers["retry-after"] == "1"
        assert reply.headers["ratelimit-remaining"] == "0"
        assert reply.json() == {"error": "rate limit exceeded"}
    assert other.status == 200, "buckets are per client"
    assert health.status == 200, "/health is never limited"
    assert health.json()["requests"]["by_route"]["GET /users/{id}"] == 6
