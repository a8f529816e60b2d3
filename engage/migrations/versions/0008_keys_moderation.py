"""API key expiry, moderated replies locked against edits, subscriber import jobs

Revision ID: 0008_keys_moderation
Revises: 0007_link_ids
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0008_keys_moderation"
down_revision = "0007_link_ids"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moderated_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("rows_json", sa.Text(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("progress_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_import_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_import_jobs_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_jobs_finished_at"), ["finished_at"], unique=False
        )
    op.create_table(
        "import_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_rejections_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejections")),
    )
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_rejections_job_id"), ["job_id"], unique=False)
    # Replies a person already decided on stay locked against edits after the upgrade too.
    op.execute(
        "UPDATE comments SET moderated_at = (SELECT MAX(created_at) FROM moderation_actions "
        "WHERE moderation_actions.comment_id = comments.id "
        "AND moderation_actions.action IN ('approve', 'reject', 'spam')) "
        "WHERE EXISTS (SELECT 1 FROM moderation_actions "
        "WHERE moderation_actions.comment_id = comments.id "
        "AND moderation_actions.action IN ('approve', 'reject', 'spam'))"
    )


def downgrade():
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_rejections_job_id"))
    op.drop_table("import_rejections")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_finished_at"))
    op.drop_table("import_jobs")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("moderated_at")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
