"""The Batch API: create, retrieve, cancel and list batch jobs, on both API surfaces."""
