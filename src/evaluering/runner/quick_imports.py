"""Keep a slow, unused import out of every notebook's worker process.

jsonschema (imported by nbformat and papermill) loads ``rfc3987_syntax`` when it is installed, and
that module compiles a grammar at import (about 0.9 s) for the "iri" string format, which no
notebook uses. Every report's worker would pay it; without the module jsonschema leaves that one
format unchecked. Imported first by :mod:`evaluering.runner`; a process that has already loaded
the module keeps it.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
