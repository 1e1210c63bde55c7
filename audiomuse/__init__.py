"""AudioMuse domain core: plain Python, no Dagster or Streamlit imports."""

__version__ = "0.1.0"
