"""The database: engines, migrations, tables, reads and writes, outage handling (retries, outbox, reaper), purge."""
