"""The case file: documents generated from a case's data, stored with versions, exported with the audit chain.

``context`` turns a case and its workflow data into each document kind's plain context; ``service``
generates, stores, lists and exports. Pages (``web.pages.documents``), the API (``web.api.documents``) and the
CLI (``web.cli``) call ``service``.
"""
