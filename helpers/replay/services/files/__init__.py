"""Files: upload, list, retrieve, download, delete, on both API surfaces."""
