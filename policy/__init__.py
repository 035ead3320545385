"""The SCONE policy pack (``__main__.py``) and its rules (``scone_policy``)."""
