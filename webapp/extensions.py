"""Extension objects, created unbound; each is bound to an app in ``create_app``."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from webapp.models.base import Base

# Objects stay readable after commit: a refresh would run outside the tenant context that
# loaded them (e.g. after sign-up), and pages never need to see a concurrent change mid-request.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
