"""AudioMuse's Streamlit explorer: thin pages over the ``audiomuse`` core."""
