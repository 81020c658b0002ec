"""maison-forecast: config → sales → priors → fits → forecasts → metrics → warehouse."""

__version__ = "0.1.0"
