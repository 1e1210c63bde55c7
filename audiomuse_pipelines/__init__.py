"""AudioMuse's Dagster project: thin assets over the ``audiomuse`` core."""
