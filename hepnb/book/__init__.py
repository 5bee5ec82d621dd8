"""The book: the studies registry (:mod:`.registry`), the papermill runner (:mod:`.runner`), the results.json
contract (:mod:`.results`), the site build (:mod:`.site`) and the environment page's measurements
(:mod:`.machine`). Import the module you mean; nothing is re-exported here."""
