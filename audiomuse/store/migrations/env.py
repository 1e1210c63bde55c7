"""Alembic environment: plain SQL migrations, URL handed in by ``Database.migrate``."""

from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")

if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection, connection.begin():
        # Several processes may migrate at once (webserver, daemon, runs): serialise them.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(427001)")
        context.configure(connection=connection)
        context.run_migrations()
    engine.dispose()
