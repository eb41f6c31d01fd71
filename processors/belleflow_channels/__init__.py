"""The dark-sector channel processors of belleflow.

One module per channel; each is registered in the ``belleflow.channels``
entry-point group of ``pyproject.toml`` so that ``belleflow run CHANNEL``
finds it by name.
"""
