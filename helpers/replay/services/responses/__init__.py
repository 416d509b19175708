"""The Responses API: create (JSON or streamed), retrieve, delete, list input items."""
