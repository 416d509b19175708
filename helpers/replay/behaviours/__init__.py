"""Simulators: answers the server makes up when it has no recording (lenient mode)
and the service behaviour Azure adds around every answer (rate limits)."""
