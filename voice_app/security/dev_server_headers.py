"""The security headers on Reflex's frontend dev server (Vite), which `make dev` serves the pages from.

Reflex writes `.web/vite.config.js` from its own template on every compile and has no option for
response headers, so this Reflex plugin edits the generated file: it adds a small Vite plugin
whose middleware sets the headers on every response of the dev server (pages, modules, assets)
and of the preview server React Router prerenders with. Vite's own ``server.headers`` would miss
the pages, which React Router's dev middleware answers. The production pages get the same
headers from Caddy (`docker/frontend.Caddyfile`), and the backend from
`voice_app.security.headers.SecurityHeadersMiddleware`.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.plugins import PreCompileContext
from typing_extensions import Unpack

from voice_app.security.headers import common_headers, page_csp
from voice_app.settings import get_settings

VITE_CONFIG = "vite.config.js"
_CONFIG_ANCHOR = "export default defineConfig("
_PLUGINS_ANCHOR = "  plugins: [\n"

_VITE_PLUGIN = """
// voice-app: security headers on every dev and preview server response (voice_app/security).
function voiceAppSecurityHeaders() {
  const headers = %s;
  const setHeaders = (_req, res, next) => {
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    next();
  };
  return {
    name: "voice-app-security-headers",
    configureServer(server) { server.middlewares.use(setHeaders); },
    configurePreviewServer(server) { server.middlewares.use(setHeaders); },
  };
}

"""


class ViteConfigError(RuntimeError):
    """Reflex's vite.config.js template changed so that the headers plugin cannot be added."""


def dev_server_headers() -> dict[str, str]:
    """The headers the dev server sends: the backend's for pages, with the page CSP."""
    settings = get_settings()
    return {**common_headers(settings), "Content-Security-Policy": page_csp(settings)}


def add_headers_plugin(vite_config: str) -> str:
    """``vite_config`` with the headers plugin defined and first in its ``plugins`` list."""
    if _CONFIG_ANCHOR not in vite_config or _PLUGINS_ANCHOR not in vite_config:
        raise ViteConfigError(
            f"Reflex's {VITE_CONFIG} no longer has `{_CONFIG_ANCHOR}` and `plugins: [`; "
            "update voice_app/security/dev_server_headers.py for the new template."
        )
    plugin = _VITE_PLUGIN % json.dumps(dev_server_headers(), indent=2)
    vite_config = vite_config.replace(_CONFIG_ANCHOR, plugin + _CONFIG_ANCHOR, 1)
    return vite_config.replace(_PLUGINS_ANCHOR, _PLUGINS_ANCHOR + "    voiceAppSecurityHeaders(),\n", 1)


class DevServerSecurityHeaders(rx.plugins.Plugin):
    """Adds the security headers to the frontend dev server's responses (see the module docstring)."""

    def pre_compile(self, **context: Unpack[PreCompileContext]) -> None:
        """Ask Reflex to pass the vite config it writes through `add_headers_plugin`."""
        context["add_modify_task"](VITE_CONFIG, add_headers_plugin)
