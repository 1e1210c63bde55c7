"""Features version: which version of the tempo/key/energy estimators produced a track's score.

``score.features_version`` is ``audiomuse.analysis.features.FEATURES_VERSION`` when the row was
saved by an analysis or a features-only refresh. Rows stored before this revision (and rows pulled
by collection sync, whose hub does not record it) are NULL: "before versions", older than 1, so a
features-only backfill recomputes them once.

No index: the backfill works one album at a time, finding its tracks through ``tracks_album_idx``
and their scores by primary key; the version is only compared on those rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE score ADD COLUMN features_version integer")


def downgrade() -> None:
    op.execute("ALTER TABLE score DROP COLUMN IF EXISTS features_version")
