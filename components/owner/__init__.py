"""CAS ownership through SCONE's ``kubectl provision`` .

Kept free of imports on purpose: ``providers`` is re-imported in Pulumi's dynamic-provider process,
which must not pull in the component or run anything at import time.
"""
