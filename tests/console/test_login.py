"""Logging in and out of the console."""

from __future__ import annotations

from starlette.applications import Starlette

from tests.console.conftest import ACCOUNTS, LoggedIn, anonymous, sign_in


async def test_a_staff_member_logs_in_and_lands_on_the_cases(app: Starlette) -> None:
    async with anonymous(app) as client:
        response = await sign_in(client, ACCOUNTS["staff"][0])
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert "Secure" not in cookie  # plain HTTP on loopback; behind HTTPS it is Secure
        assert response.headers["location"] == "/"
        page = await client.get("/no-such-page")
        assert ACCOUNTS["staff"][0] in page.text  # signed in: the header names them


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    app: Starlette,
) -> None:
    async with anonymous(app) as client:
        wrong = await sign_in(client, ACCOUNTS["staff"][0], "not the password at all")
        unknown = await sign_in(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "klopt niet" in wrong.text and "klopt niet" in unknown.text
    assert "set-cookie" not in wrong.headers or "dsr_session" not in wrong.headers["set-cookie"]


async def test_after_logging_out_the_old_session_lets_no_one_in(
    logged_in: LoggedIn, app: Starlette
) -> None:
    client = await logged_in("staff")
    token = client.cookies["dsr_session"]
    out = await client.post_form("/logout")
    assert out.status_code == 303
    async with anonymous(app) as thief:
        thief.cookies.set("dsr_session", token)
        response = await thief.get("/cases")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
