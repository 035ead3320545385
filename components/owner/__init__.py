"""CAS ownership through SCONE's ``kubectl provision`` (issue 4).

Kept free of imports on purpose: ``providers`` is re-imported in Pulumi's dynamic-provider process,
which must not pull in the component or run anything at import time.
"""
