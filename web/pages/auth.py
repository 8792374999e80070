"""Login, logout and the language switch."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_user, logout_user

from web.auth import LoginRefused, authenticate
from web.i18n import LANGUAGES
from web.pages.common import bp, safe_next


@bp.get("/")
def home() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("pages.inbox"))
    return redirect(url_for("pages.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            user = authenticate(username, request.form.get("password", ""))
        except LoginRefused as refused:
            error = {
                "invalid": _("Wrong user name or password."),
                "rate_limited": _("Too many failed attempts. Wait 15 minutes and try again."),
                "demo_password": _("Demo passwords are refused in production. Ask an administrator "
                                   "to set a real password."),
            }.get(refused.reason, _("Wrong user name or password."))
            status = 429 if refused.reason == "rate_limited" else 401
            return render_template("pages/login.html", error=error, username=username), status
        login_user(user)
        chosen = session.pop("lang", None)
        if session.pop("lang_chosen", False) and chosen in LANGUAGES:
            user.language = chosen  # switched on the login page: remember it for this user
        refresh()
        return redirect(safe_next(request.args.get("next")))
    if current_user.is_authenticated:
        return redirect(url_for("pages.inbox"))
    return render_template("pages/login.html", error=error, username=username)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    lang = current_user.language if current_user.is_authenticated else None
    logout_user()
    if lang in LANGUAGES:
        session["lang"] = lang  # keep the language on the login page
    return redirect(url_for("pages.login"))


@bp.post("/language")
def language() -> ResponseReturnValue:
    """Switch the language; remembered on the user (and in the session before login)."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.language = lang
        else:
            session["lang_chosen"] = True
        refresh()
    return redirect(safe_next(request.form.get("next"), url_for("pages.home")))
