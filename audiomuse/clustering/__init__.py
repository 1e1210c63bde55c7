"""Evolutionary clustering into mood playlists: pure core (numpy / scikit-learn, no database).

``run_search(inp, params, seed, progress, should_stop, workers)`` (:mod:`.search`) is the entry
point. Its parts: the data in and out (:mod:`.data`), the settings (:mod:`.params`), the problem
shipped to workers (:mod:`.problem`), stratified sampling (:mod:`.sampling`), the parameters of a
run (:mod:`.run_params`), one run (:mod:`.run`), the playlists of the best run
(:mod:`.postprocess`), its fitness (:mod:`.scoring`, constants in :mod:`.fitness`) and the playlist
names (:mod:`.naming`). Import each name from the module that defines it: this package file stays
empty so the settings can read :mod:`.params` without loading numpy and scikit-learn.
"""
