"""The per-user cookie jar: RFC 6265 parsing, domain and path matching, expiry, Secure."""

from __future__ import annotations

from loadlens.http.cookies import CookieJar, default_path, domain_matches, path_matches

NOW = 1_800_000_000.0


def _jar(*fields: str, host: str = "api.example.com", path: str = "/login") -> CookieJar:
    jar = CookieJar()
    jar.store(list(fields), host, path, NOW)
    return jar


def test_a_host_only_cookie_goes_back_to_its_host_only() -> None:
    jar = _jar("sid=abc; Path=/")
    assert jar.header_for("api.example.com", "/me", secure=False, now=NOW) == "sid=abc"
    assert jar.header_for("www.api.example.com", "/me", secure=False, now=NOW) is None


def test_a_domain_cookie_goes_to_the_domain_and_its_subdomains() -> None:
    jar = _jar("sid=abc; Domain=.example.com; Path=/")
    assert jar.header_for("example.com", "/", secure=False, now=NOW) == "sid=abc"
    assert jar.header_for("x.example.com", "/", secure=False, now=NOW) == "sid=abc"
    assert jar.header_for("example.org", "/", secure=False, now=NOW) is None


def test_a_host_cannot_set_a_cookie_for_another_domain() -> None:
    assert len(_jar("sid=abc; Domain=other.com")) == 0


def test_the_default_path_is_the_request_directory_and_paths_match_by_segment() -> None:
    jar = _jar("a=1", path="/account/login")
    assert jar.header_for("api.example.com", "/account/me", secure=False, now=NOW) == "a=1"
    assert jar.header_for("api.example.com", "/accounts", secure=False, now=NOW) is None
    assert default_path("/login") == "/" and default_path("/a/b/c") == "/a/b"
    assert (
        path_matches("/a/b", "/a") and path_matches("/a/", "/a/") and not path_matches("/ab", "/a")
    )


def test_longer_paths_go_first_and_a_later_cookie_replaces_its_namesake() -> None:
    jar = _jar("a=1; Path=/", "b=2; Path=/x", "a=3; Path=/")
    assert jar.header_for("api.example.com", "/x/y", secure=False, now=NOW) == "b=2; a=3"
    assert jar.value("a") == "3"


def test_max_age_wins_over_expires_and_an_expired_cookie_deletes_its_namesake() -> None:
    jar = _jar("a=1; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/")
    assert jar.header_for("api.example.com", "/", secure=False, now=NOW + 59) == "a=1"
    assert jar.header_for("api.example.com", "/", secure=False, now=NOW + 61) is None
    jar = _jar("a=1; Path=/")
    jar.store(["a=gone; Max-Age=0; Path=/"], "api.example.com", "/", NOW)
    assert len(jar) == 0
    jar = _jar("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/")
    assert len(jar) == 0  # already expired: never stored


def test_a_secure_cookie_is_sent_over_https_only() -> None:
    jar = _jar("s=1; Secure; Path=/")
    assert jar.header_for("api.example.com", "/", secure=False, now=NOW) is None
    assert jar.header_for("api.example.com", "/", secure=True, now=NOW) == "s=1"


def test_malformed_fields_are_ignored_and_quotes_are_removed() -> None:
    jar = _jar("novalue", "=x", 'q="quoted"; Path=/')
    assert jar.header_for("api.example.com", "/", secure=False, now=NOW) == "q=quoted"


def test_a_copy_is_independent() -> None:
    jar = _jar("a=1; Path=/")
    copy = jar.copy()
    copy.store(["a=2; Path=/"], "api.example.com", "/", NOW)
    assert (jar.value("a"), copy.value("a")) == ("1", "2")


def test_an_ip_address_is_never_a_subdomain() -> None:
    assert domain_matches("127.0.0.1", "127.0.0.1")
    assert not domain_matches("1.127.0.0.1", "0.0.1")
