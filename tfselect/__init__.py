"""tfselect: choose the time-frequency transform each music source should use."""

__version__ = "0.1.0"
TARGETS = ("vocals", "drums", "bass", "other")
SAMPLE_RATE = 44100
