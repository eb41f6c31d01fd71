"""Figures of belleflow's outputs, with mplhep and hist.

- :mod:`~belleflow.plotting.spectra`: data against stacked simulation, signals, ratio; 2-D planes;
- :mod:`~belleflow.plotting.cutflow`: the cutflow table, raw and weighted per process;
- :mod:`~belleflow.plotting.efficiency`: signal efficiency and resolution against mass;
- :mod:`~belleflow.plotting.brazil`: Brazil plots and the (mass, lifetime) limit plane;
- :mod:`~belleflow.plotting.significance`: the local-significance scan;
- :mod:`~belleflow.plotting.labels`: every readable label, in one place;
- :mod:`~belleflow.plotting.style`: style, colours, experiment label, PNG and PDF;
- :mod:`~belleflow.plotting.channel`: all figures of a channel's outputs.
"""

from __future__ import annotations

from belleflow.plotting.channel import ChannelFigures, plot_channel, plot_limit_outputs
from belleflow.plotting.inputs import ChannelRun, LimitSet, find_channels, load_channel_run

__all__ = [
    "ChannelFigures",
    "ChannelRun",
    "LimitSet",
    "find_channels",
    "load_channel_run",
    "plot_channel",
    "plot_limit_outputs",
]
