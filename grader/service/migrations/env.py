"""Alembic's environment: migrations run on the connection that Store.migrate passes."""
from alembic import context

context.configure(connection=context.config.attributes["connection"], render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
