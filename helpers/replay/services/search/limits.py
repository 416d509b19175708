"""Azure AI Search's documented request limits, checked before any work is done.

Each is answered with a 400 in Azure AI Search's shape (:mod:`.errors`). Sources:

* Microsoft Learn, "Service limits in Azure AI Search", *API request limits*: "Supported
  maximum payload limit is 16 MB for indexing and query request", "Maximum 8-KB URL length",
  "Each request supports between 1 and 32,000 indexing actions", "Maximum 10 fields in a
  vector query", "Maximum 32 fields in $orderby clause", "Maximum 100,000 characters in a
  search clause", "Maximum number of clauses in search is 3,000"; *Index limits*: "Maximum
  simple fields per index: 1000" (Basic: 100, its only exception), "Maximum dimensions per
  vector field: 4096"; *API response limits*: "Each page of search results returns up to
  1,000 documents". The Search Documents REST reference adds that a POST's filter is limited
  by its number of clauses, not its size.
* ``$filter``: Microsoft Learn, "OData $filter syntax in Azure AI Search", *Filter size
  limitations*: "The limits are based roughly on the number of clauses in your filter
  expression. A good guideline is that if you have hundreds of clauses, you are at risk of
  exceeding the limit" (no number is published; this server allows 1,000, and ``search.in``
  counts as one clause, as the page says). The service parses filters with
  Microsoft.OData.Core, whose ``ODataUriParserSettings`` allows 800 recursive calls for a
  filter (``DefaultFilterLimit = 800``) and answers "Recursion depth exceeded allowed limit."
  beyond: this server allows 800 levels of the expression tree (a chain of ``or``/``and``
  terms is as deep as it is long) and 100 levels of parentheses, ``not`` and lambdas (each
  costs the OData parser several recursive calls).
* Document keys: at most 1,024 characters (Microsoft Learn, "Naming rules in Azure AI
  Search": "Document keys ... limited to 1024 characters").
"""

from __future__ import annotations

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_URL_BYTES = 8 * 1024
MAX_INDEXING_ACTIONS = 32_000
MAX_VECTOR_QUERY_FIELDS = 10
MAX_ORDERBY_CLAUSES = 32
MAX_SEARCH_CHARACTERS = 100_000
MAX_SEARCH_CLAUSES = 3_000
MAX_FIELDS_PER_INDEX = 1_000
MAX_VECTOR_DIMENSIONS = 4_096
MIN_VECTOR_DIMENSIONS = 2
MAX_PAGE = 1_000
MAX_SKIP = 100_000
MAX_FILTER_CLAUSES = 1_000
MAX_FILTER_TREE_DEPTH = 800
MAX_FILTER_NESTING = 100
MAX_KEY_LENGTH = 1_024
MAX_NAME_LENGTH = 128
"""Index and field names: at most 128 characters ("Naming rules in Azure AI Search")."""
