"""Event generators of the background processes, one module per family.

Importing a module registers its generators; :mod:`belleflow.generation.registry`
imports every generator module (these and the signal models).
"""
