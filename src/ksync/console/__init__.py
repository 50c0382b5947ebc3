"""The web console: an app shell at `/`, a login form, and its hand-written static files.

Everything the console shows or changes goes through the public REST API (`/api/v1/…`)
from the browser; this package only serves files and the login cookie. `GET /` belongs to
the console only when the client asks for HTML: any other `GET /` is the Kafka Connect
face's server info (src/ksync/api/compat/connect.py), so the console's route does not
match non-HTML requests and the Connect route does not match HTML ones.
"""

from ksync.console.routes import router

__all__ = ["router"]
