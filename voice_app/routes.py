"""Page paths, in one place so links and redirects never drift apart."""

HOME = "/"
LOGIN = "/login"
SIGNUP = "/signup"
LOGOUT = "/logout"
TALK = "/talk"
HISTORY = "/history"
SETTINGS = "/settings"
