"""Signal models of the dark-sector channels, one module per channel.

Each module declares its models with
:func:`belleflow.generation.signals.register_signal`; importing it registers
the models' generators (``belleflow.generation.generators`` imports them all).
"""
