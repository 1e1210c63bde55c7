"""Living playlists: a tool's result saved as a *recipe* (what it was made from, whose it is, when
it is made again) instead of a one-off playlist.

:mod:`.model` (the ``Recipe`` value, its kinds and refresh policies), :mod:`.store` (the
``recipes`` table), :mod:`.build` (a recipe's songs, made again from the current library) and
:mod:`.refresh` (one refresh: build, replace the server playlist in place, keep the last good
version when anything fails, report what changed).
"""
