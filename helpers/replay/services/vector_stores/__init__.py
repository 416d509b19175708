"""Vector stores, their files and file batches, search, and the Responses ``file_search`` tool."""
