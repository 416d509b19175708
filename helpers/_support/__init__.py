"""What the lessons stand on and notebooks never import directly: the connection
(:mod:`.clients`, :mod:`.settings`), notebook running and display (:mod:`.notebooks`),
strict-schema rules (:mod:`.schemas`), the offline tokenizer with OpenAI's
counting rules (:mod:`.tokenizer`, :mod:`.counting`), the dated model catalogue
(:mod:`.models`), and the feedback exercise checkers return (:mod:`.exercises`). The replay
server may import from here; it never imports a lesson module."""
