"""Flask extensions, created once here and bound to each app in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from marketplace.db import db

csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)

__all__ = ["babel", "bootstrap", "csrf", "db", "limiter", "login_manager"]
