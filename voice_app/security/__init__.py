"""Protections every response and request gets: security headers and a request-body size limit."""
